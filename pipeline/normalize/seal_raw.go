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
	box := append(make([]byte, 0, 1+len(raw)+p.aead.Overhead()), sealVersion)
	box = p.aead.Seal(box, nil, raw, rawAAD)
	return base64.RawURLEncoding.EncodeToString(box)
}

// OpenBytes reverses SealBytes. The error wraps risk.ErrInvalid when sealed
// was not made by SealBytes with the same secret or was altered.
func (p *Protector) OpenBytes(sealed string) ([]byte, error) {
	box, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(box) == 0 || box[0] != sealVersion {
		return nil, fmt.Errorf("open sealed message: not a sealed message: %w", risk.ErrInvalid)
	}
	raw, err := p.aead.Open(nil, nil, box[1:], rawAAD)
	if err != nil {
		return nil, fmt.Errorf("open sealed message: wrong key or altered: %w", risk.ErrInvalid)
	}
	return raw, nil
}
