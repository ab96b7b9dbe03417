//! Text folded for matching as people type it: case and accents do not
//! count. "ΕΠΕΙΓΟΝ", "Επείγον" and "επειγον" are one word (capitals are
//! normally typed without their accents in Greek); so are "Zażółć" and
//! "zazolc", "Café" and "cafe". Keyword rules and the subjects compared
//! for threading are folded; what people read never is.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `s` lower-cased, without combining marks (after canonical
/// decomposition), with Greek final sigma as σ and Polish ł as l (it has
/// no decomposition).
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ς' => 'σ',
            'ł' => 'l',
            'ø' => 'o',
            'đ' => 'd',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn case_and_accents_do_not_count() {
        assert_eq!(fold("ΕΠΕΙΓΟΝ"), "επειγον");
        assert_eq!(fold("Επείγον"), "επειγον");
        assert_eq!(fold("επειγον"), "επειγον");
        assert_eq!(
            fold("ΠΡΟΒΛΗΜΑ ΣΤΟΝ ΕΚΤΥΠΩΤΗ"),
            fold("Πρόβλημα στον εκτυπωτή")
        );
        assert_eq!(fold("Αίτημα για τιμολόγιος"), "αιτημα για τιμολογιοσ");
        assert_eq!(fold("ΤΙΜΟΛΟΓΙΟΣ"), fold("τιμολόγιος"));
        assert_eq!(fold("Pilne: Zażółć gęślą jaźń"), "pilne: zazolc gesla jazn");
        assert_eq!(fold("PILNE"), fold("pilne"));
        assert_eq!(fold("Café Straße"), "cafe straße");
    }
}
