//! Number formatting for the text writers: digits appended to a byte buffer, without the
//! allocation and locale work of `format!`, for tens of millions of lines.

/// Appends `v` in decimal.
pub(super) fn push_int(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut v = v.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Appends `v` (non-negative) zero-padded to `width` digits.
fn push_padded(buf: &mut Vec<u8>, v: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = v.unsigned_abs();
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf.extend_from_slice(&digits[..width]);
}

/// Appends a price in cents with two decimals.
pub(super) fn push_price(buf: &mut Vec<u8>, cents: i64) {
    push_int(buf, cents / 100);
    buf.push(b'.');
    push_padded(buf, cents % 100, 2);
}

/// Appends a local time of day, `HH:MM:SS` and, with `micros`, `.ffffff`.
pub(super) fn push_time(buf: &mut Vec<u8>, local_us: i64, micros: bool) {
    let secs = local_us / 1_000_000;
    push_padded(buf, secs / 3600, 2);
    buf.push(b':');
    push_padded(buf, secs / 60 % 60, 2);
    buf.push(b':');
    push_padded(buf, secs % 60, 2);
    if micros {
        buf.push(b'.');
        push_padded(buf, local_us % 1_000_000, 6);
    }
}
