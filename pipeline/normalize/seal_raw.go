package normalize

import (
	"encoding/base64"
	"fmt"

	risk "riskwatch"
)

// rawAAD binds sealed raw messages to the quarantine: such a box cannot pass
// for a sealed person, nor the other way round.
var rawAAD = []byte("riskwatch/quarantine/v1")

// SealBytes encrypts the raw bytes of a rejected message, which may hold
// personal data in clear, for the quarantine; base64 like Seal.
func (p *Protector) SealBytes(raw []byte) string {
	box := append(append(make([]byte, 0, 1+keyIDLen+len(raw)+p.aead.Overhead()), sealVersion), p.keyID[:]...)
	box = p.aead.Seal(box, nil, raw, rawAAD)
	return base64.RawURLEncoding.EncodeToString(box)
}

// OpenBytes reverses SealBytes. The error wraps risk.ErrInvalid when sealed
// was not made by SealBytes with the same secret or was altered.
func (p *Protector) OpenBytes(sealed string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("open sealed message: not a sealed message: %w", risk.ErrInvalid)
	}
	aead, box, err := p.unbox(b)
	if err != nil {
		return nil, fmt.Errorf("open sealed message: %w", err)
	}
	raw, err := aead.Open(nil, nil, box, rawAAD)
	if err != nil {
		return nil, fmt.Errorf("open sealed message: wrong key or altered: %w", risk.ErrInvalid)
	}
	return raw, nil
}
