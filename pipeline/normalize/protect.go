package normalize

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"sync"

	risk "riskwatch"
)

// Protector turns personal data into keyed hashes, for linking the same
// person across feeds, and into sealed boxes, for the few who may contact
// the person. It is safe for concurrent use.
//
// A protector holds a keyring (NewKeyring): it seals with the current
// secret and opens what any secret of the ring sealed, each box naming its
// secret by id. Person hashes come from the oldest secret of the ring, the
// one the installation began with, so that rotating the secret changes no
// PhoneKey or IDKey: links hold across rotations.
type Protector struct {
	hashKey []byte
	keyID   [keyIDLen]byte // names the current secret in every box it seals
	aead    cipher.AEAD    // the current secret's
	ring    map[[keyIDLen]byte]cipher.AEAD
	legacy  cipher.AEAD // the oldest secret's: boxes from before key ids (version 1)
	macs    sync.Pool   // *mac keyed with hashKey; hmac.New per call costs two SHA-256 blocks and allocations
}

// mac is a reusable HMAC-SHA256 with scratch buffers, so hashing a number
// allocates only the returned key.
type mac struct {
	h   hash.Hash
	in  []byte
	sum []byte
}

const (
	// sealVersion 2 boxes carry the id of the key that sealed them, so that
	// a rotated key can be told from a damaged box (and, with the old key
	// kept, still opened); version 1 boxes, from before, carry none.
	sealVersion     = 2
	sealVersionNoID = 1
	keyIDLen        = 4
	// Domains keep a phone number and an ID number with the same digits
	// from getting the same key.
	domainPhone = 'p'
	domainID    = 'i'
)

// sealAAD binds sealed boxes to their use: a box cannot be replayed as
// another kind of sealed value made with the same key.
var sealAAD = []byte("riskwatch/person/v1")

// NewProtector derives the hash and seal keys from secret, which must hold at
// least 32 bytes of key material (from the environment, never from a file in
// the repository). It is NewKeyring with no previous secret.
func NewProtector(secret []byte) (*Protector, error) {
	return NewKeyring(secret)
}

// NewKeyring is a protector that seals with current and opens boxes sealed
// with current or any of previous, the secrets it replaced, oldest first.
// Its hashes are those of the oldest secret (previous[0], or current when
// there is none). Each secret holds at least 32 bytes.
func NewKeyring(current []byte, previous ...[]byte) (*Protector, error) {
	oldest := current
	if len(previous) > 0 {
		oldest = previous[0]
	}
	p := &Protector{hashKey: derive(oldest, "riskwatch/hash/v1"), ring: map[[keyIDLen]byte]cipher.AEAD{}}
	for i, secret := range append(slices.Clone(previous), current) {
		if len(secret) < 32 {
			return nil, fmt.Errorf("protector: secret has %d bytes, want at least 32: %w", len(secret), risk.ErrInvalid)
		}
		var id [keyIDLen]byte
		copy(id[:], derive(secret, "riskwatch/key-id/v1"))
		block, err := aes.NewCipher(derive(secret, "riskwatch/seal/v1"))
		if err != nil {
			return nil, fmt.Errorf("protector: seal key: %w", err)
		}
		// Random nonces need no coordination between replicas; 2^32 seals
		// per secret is far above the persons a province produces between
		// rotations.
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("protector: seal cipher: %w", err)
		}
		if _, dup := p.ring[id]; dup {
			return nil, fmt.Errorf("protector: key %x given twice: %w", id, risk.ErrInvalid)
		}
		p.ring[id] = aead
		if i == 0 {
			p.legacy = aead
		}
		p.keyID, p.aead = id, aead // the last is the current one
	}
	p.macs.New = func() any { return &mac{h: hmac.New(sha256.New, p.hashKey)} }
	return p, nil
}

// KeyID names the secret (8 hex digits, derived from it, revealing
// nothing of it): operators see which key sealed what.
func (p *Protector) KeyID() string { return hex.EncodeToString(p.keyID[:]) }

// Previous lists the ids of the ring's other secrets, those it still opens.
func (p *Protector) Previous() []string {
	var out []string
	for id := range p.ring {
		if id != p.keyID {
			out = append(out, hex.EncodeToString(id[:]))
		}
	}
	slices.Sort(out)
	return out
}

// derive is HMAC-SHA256(secret, label): one independent 32-byte key per label.
func derive(secret []byte, label string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	return h.Sum(nil)
}

// PhoneKey returns the keyed hash of the normalised phone number in raw
// (32 hex digits); ok is false when raw is not a usable number. The same
// number in any format gives the same key.
func (p *Protector) PhoneKey(raw string) (key string, ok bool) {
	var buf [phoneMaxDigits]byte
	d, ok := normalizePhone(buf[:0], raw)
	if !ok {
		return "", false
	}
	return string(p.appendKey(nil, domainPhone, d)), true
}

// IDKey returns the keyed hash of the normalised resident ID number in raw;
// ok is false when raw does not have the form of an ID or its birth date is
// impossible. An ID whose check digit is wrong is keyed as written, as the
// decoders do (with a warning): upstream systems copy IDs from each other,
// typos included, and the same typo still links the same person. A 15-digit
// ID and its 18-digit successor give the same key.
func (p *Protector) IDKey(raw string) (key string, ok bool) {
	var id [18]byte
	if ok, _ := normalizeID(&id, raw); !ok {
		return "", false
	}
	return string(p.appendKey(nil, domainID, id[:])), true
}

// appendKey appends the first 128 bits of HMAC(hashKey, domain || v) in hex.
func (p *Protector) appendKey(dst []byte, domain byte, v []byte) []byte {
	m := p.macs.Get().(*mac)
	m.h.Reset()
	m.in = append(append(m.in[:0], domain), v...)
	m.h.Write(m.in)
	m.sum = m.h.Sum(m.sum[:0])
	dst = hex.AppendEncode(dst, m.sum[:16])
	p.macs.Put(m)
	return dst
}

// Seal encrypts a person's clear name, phone and ID number with AES-256-GCM
// and returns it base64 (URL alphabet, unpadded); "" when all are empty.
// Each call uses a fresh random nonce, so sealing the same values twice gives
// different strings.
func (p *Protector) Seal(name, phone, idNo string) string {
	if len(name)+len(phone)+len(idNo) == 0 {
		return ""
	}
	var tmp []byte
	return string(p.appendSeal(nil, &tmp, []byte(name), []byte(phone), []byte(idNo)))
}

// appendSeal appends the sealed box of the three values, base64, to dst;
// tmp is scratch for the plaintext and the ciphertext. The box is
// version || key id || nonce || AES-GCM(uvarint-prefixed name, phone, ID).
func (p *Protector) appendSeal(dst []byte, tmp *[]byte, name, phone, idNo []byte) []byte {
	buf := (*tmp)[:0]
	for _, f := range [...][]byte{name, phone, idNo} {
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	n := len(buf)
	// The ciphertext goes after the plaintext, in capacity that does not
	// overlap it, as cipher.AEAD.Seal requires.
	buf = slices.Grow(buf, 1+keyIDLen+p.aead.Overhead()+n)
	box := append(append(buf[n:n], sealVersion), p.keyID[:]...)
	box = p.aead.Seal(box, nil, buf[:n], sealAAD)
	*tmp = buf[:0]
	return base64.RawURLEncoding.AppendEncode(dst, box)
}

// Open reverses Seal. The error wraps risk.ErrInvalid when sealed was not
// made by Seal with the same secret or was altered.
func (p *Protector) Open(sealed string) (name, phone, idNo string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) == 0 {
		return "", "", "", fmt.Errorf("open sealed person: not base64: %w", risk.ErrInvalid)
	}
	aead, box, err := p.unbox(raw)
	if err != nil {
		return "", "", "", fmt.Errorf("open sealed person: %w", err)
	}
	pt, err := aead.Open(nil, nil, box, sealAAD)
	if err != nil {
		return "", "", "", fmt.Errorf("open sealed person: wrong key or altered: %w", risk.ErrInvalid)
	}
	var f [3]string
	for i := range f {
		n, k := binary.Uvarint(pt)
		if k <= 0 || n > uint64(len(pt)-k) {
			return "", "", "", fmt.Errorf("open sealed person: malformed: %w", risk.ErrInvalid)
		}
		f[i] = string(pt[k : k+int(n)])
		pt = pt[k+int(n):]
	}
	return f[0], f[1], f[2], nil
}

// unbox checks a box's version and key id and returns the cipher of its
// key and what follows them: nonce and ciphertext.
func (p *Protector) unbox(raw []byte) (cipher.AEAD, []byte, error) {
	if raw[0] == sealVersionNoID {
		return p.legacy, raw[1:], nil
	}
	if raw[0] != sealVersion || len(raw) < 1+keyIDLen {
		return nil, nil, fmt.Errorf("version %d: %w", raw[0], risk.ErrInvalid)
	}
	aead, ok := p.ring[[keyIDLen]byte(raw[1:1+keyIDLen])]
	if !ok {
		return nil, nil, fmt.Errorf("sealed with key %x, this is key %s (with %d previous): %w", raw[1:1+keyIDLen], p.KeyID(), len(p.ring)-1, risk.ErrInvalid)
	}
	return aead, raw[1+keyIDLen:], nil
}
