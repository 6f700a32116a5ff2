package desk

import (
	"fmt"
	"strings"

	risk "riskwatch"
)

// Text limits, in characters.
const (
	maxName = 100  // names: display names, token names
	maxText = 4000 // free text: notes, reasons
)

// text checks what a person typed — a note, a reason — against the limit
// (and, when required, for being blank) and masks the personal numbers in
// it: what is stored, published and told to robots is the masked text.
func (b base) text(field, s string, required bool) (string, error) {
	min := 0
	if required {
		min = 1
	}
	if err := checkText(field, s, min, maxText); err != nil {
		return "", err
	}
	return b.mask(s), nil
}

// checkText refuses text that is blank (when min > 0) or longer than max
// characters.
func checkText(field, s string, min, max int) error {
	n := len([]rune(s))
	if n > max || min > 0 && strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s: want %d–%d characters, got %d: %w", field, min, max, n, risk.ErrInvalid)
	}
	return nil
}
