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

// checkText refuses text that is blank (when min > 0) or longer than max
// characters.
func checkText(field, s string, min, max int) error {
	n := len([]rune(s))
	if n > max || min > 0 && strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s: want %d–%d characters, got %d: %w", field, min, max, n, risk.ErrInvalid)
	}
	return nil
}
