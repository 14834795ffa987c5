//! Fuzzes the filter parser: any input must give a tree or an error whose span lies inside
//! the input, never a panic, an overflow or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match rivus_expr::parse(text) {
        Ok(expr) => assert!(expr.span.end <= text.len()),
        Err(err) => {
            assert!(err.span.start <= err.span.end && err.span.end <= text.len());
            let _ = err.render(text);
        }
    }
});
