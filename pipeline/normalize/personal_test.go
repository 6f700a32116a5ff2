package normalize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	risk "riskwatch"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"13805712345", "13805712345"},
		{"138 0571 2345", "13805712345"},
		{"138-0571-2345", "13805712345"},
		{"+86-138-0571-2345", "13805712345"},
		{"+86 13805712345", "13805712345"},
		{"＋８６ １３８０５７１２３４５", "13805712345"},
		{"008613805712345", "13805712345"},
		{"8613805712345", "13805712345"},
		{"１３８０５７１２３４５", "13805712345"},
		{"(138)0571-2345", "13805712345"},
		{"19912345678", "19912345678"},
		{"0575-87021234", "057587021234"},
		{"(0575)87021234", "057587021234"},
		{"（0575）8702 1234", "057587021234"},
		{"0575－87021234", "057587021234"},
		{"0575-8702123", "05758702123"},
		{"010-62345678", "01062345678"},
		{"021 6234 5678", "02162345678"},
		{"+86 575 87021234", "057587021234"},
		{"+86-10-62345678", "01062345678"},
		{"0086 575 87021234", "057587021234"},

		{"", ""},
		{"138****2345", ""},
		{"１３８＊＊＊＊２３４５", ""},
		{"1380571234", ""},
		{"138057123456", ""},
		{"12805712345", ""},
		{"87021234", ""},
		{"0575-1702123", ""},
		{"0575-870212", ""},
		{"+1 415 555 0100", ""},
		{"13805712345/13905751234", ""},
		{"tel:13805712345", ""},
		{"1380571234５6", ""},
		{"138+05712345", ""},
		{"0000000000", ""},
	}
	for _, tt := range tests {
		got, ok := NormalizePhone(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.want != "")
		}
	}
}

func TestMaskPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"13805712345", "138****2345"},
		{"+86-138-0571-2345", "138****2345"},
		{"057587021234", "0575****1234"},
		{"0575-87021234", "0575****1234"},
		{"0575-8702123", "0575****2123"},
		{"010-62345678", "010****5678"},
		{"138****2345", ""},
		{"garbage", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"33068119830412543X", "33068119830412543X"},
		{"33068119830412543x", "33068119830412543X"},
		{"３３０６８１１９８３０４１２５４３Ｘ", "33068119830412543X"},
		{"33068119830412543ｘ", "33068119830412543X"},
		{" 330681 19830412 543X ", "33068119830412543X"},
		{"11010519491231002X", "11010519491231002X"},
		{"330681830412543", "33068119830412543X"}, // first generation: 19 inserted, check digit computed
		{"110105491231002", "11010519491231002X"},

		{"330681198304125431", ""}, // check digit wrong (the contract example)
		{"33068119830432543X", ""}, // no 32nd day
		{"33068119831312543X", ""}, // no 13th month
		{"3306811983041254X3", ""},
		{"33068119830412543", ""},
		{"3306811983041254311", ""},
		{"330681831312543", ""},
		{"33068183041254X", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := NormalizeID(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("NormalizeID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.want != "")
		}
	}
}

func TestMaskName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"王建国", "王*国"},
		{"李海军", "李*军"},
		{"周丽", "周*"},
		{"欧阳小明", "欧**明"},
		{"买买提·艾力", "买****力"},
		{" 王建国 ", "王*国"},
		{"王", "*"},
		{"王**", "王**"},
		{"", ""},
		{"  ", ""},
	}
	for _, tt := range tests {
		if got := MaskName(tt.in); got != tt.want {
			t.Errorf("MaskName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClassifyName(t *testing.T) {
	tests := []struct {
		in   string
		want nameKind
	}{
		{"", nameNone},
		{"王建国", nameClear},
		{"王**", nameMasked},
		{"赵＊＊", nameMasked},
		{"钱某", nameMasked},
		{"王某某", nameMasked},
		{"某", nameClear},
		{"匿名", nameAnonymous},
		{"匿名用户", nameAnonymous},
	}
	for _, tt := range tests {
		if got := classifyName([]byte(tt.in)); got != tt.want {
			t.Errorf("classifyName(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestNewProtector(t *testing.T) {
	if _, err := NewProtector(make([]byte, 31)); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("NewProtector(31 bytes) error = %v, want ErrInvalid", err)
	}
	if _, err := NewProtector(make([]byte, 32)); err != nil {
		t.Errorf("NewProtector(32 bytes) error = %v, want nil", err)
	}
}

func TestKeys(t *testing.T) {
	p := testProtector(t)
	same := []string{"13805712345", "138 0571 2345", "+86-138-0571-2345", "１３８０５７１２３４５", "008613805712345"}
	want, ok := p.PhoneKey(same[0])
	if !ok || len(want) != 32 {
		t.Fatalf("PhoneKey(%q) = %q, %v; want 32 hex digits", same[0], want, ok)
	}
	// The key is HMAC-SHA256 with the derived hash key, over the domain and
	// the normalised number.
	mac := hmac.New(sha256.New, derive(testSecret, "riskwatch/hash/v1"))
	mac.Write([]byte("p13805712345"))
	if ref := hex.EncodeToString(mac.Sum(nil)[:16]); want != ref {
		t.Errorf("PhoneKey = %q, want HMAC %q", want, ref)
	}
	for _, s := range same[1:] {
		if got, ok := p.PhoneKey(s); got != want || !ok {
			t.Errorf("PhoneKey(%q) = %q, %v; want %q, true", s, got, ok, want)
		}
	}
	if got, ok := p.PhoneKey("138****2345"); got != "" || ok {
		t.Errorf("PhoneKey(masked) = %q, %v; want \"\", false", got, ok)
	}

	id18, _ := p.IDKey("33068119830412543X")
	id15, _ := p.IDKey("330681830412543")
	idLower, _ := p.IDKey("33068119830412543x")
	if id18 == "" || id15 != id18 || idLower != id18 {
		t.Errorf("IDKey of one ID in three forms = %q, %q, %q; want equal", id18, id15, idLower)
	}
	if typo, ok := p.IDKey("330681198304125431"); !ok || typo == "" || typo == id18 {
		t.Errorf("IDKey(bad check digit) = %q, %v; want its own key", typo, ok)
	}
	if _, ok := p.IDKey("33068119831312543X"); ok {
		t.Error("IDKey(13th month) ok, want false")
	}

	// Same digits, different domains; another secret, other keys.
	phone, _ := p.PhoneKey("057587021234")
	other, _ := NewProtector([]byte(strings.Repeat("x", 32)))
	otherKey, _ := other.PhoneKey(same[0])
	if phone == want || otherKey == want {
		t.Errorf("keys collide: %q, %q, %q", want, phone, otherKey)
	}
}

func TestSealOpen(t *testing.T) {
	p := testProtector(t)
	tests := []struct{ name, phone, id string }{
		{"王建国", "138 0571 2345", ""},
		{"", "", "33068119830412543X"},
		{"欧阳小明", "0575-87021234", "330681830412543"},
		{strings.Repeat("长", 300), "", ""},
	}
	for _, tt := range tests {
		sealed := p.Seal(tt.name, tt.phone, tt.id)
		if sealed == "" || strings.Contains(sealed, tt.phone) && tt.phone != "" {
			t.Fatalf("Seal(%q, %q, %q) = %q", tt.name, tt.phone, tt.id, sealed)
		}
		if again := p.Seal(tt.name, tt.phone, tt.id); again == sealed {
			t.Errorf("Seal twice gave the same box %q, want fresh nonces", sealed)
		}
		name, phone, id, err := p.Open(sealed)
		if err != nil || name != tt.name || phone != tt.phone || id != tt.id {
			t.Errorf("Open(Seal(%q, %q, %q)) = %q, %q, %q, %v", tt.name, tt.phone, tt.id, name, phone, id, err)
		}
	}
	if got := p.Seal("", "", ""); got != "" {
		t.Errorf("Seal of nothing = %q, want \"\"", got)
	}

	sealed := p.Seal("王建国", "13805712345", "")
	other, _ := NewProtector([]byte(strings.Repeat("y", 40)))
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1
	for name, s := range map[string]string{
		"other secret": "", "tampered": string(tampered), "not base64": "!!!", "empty": "", "truncated": sealed[:10],
	} {
		pp := p
		if name == "other secret" {
			pp, s = other, sealed
		}
		if _, _, _, err := pp.Open(s); !errors.Is(err, risk.ErrInvalid) {
			t.Errorf("Open(%s) error = %v, want ErrInvalid", name, err)
		}
	}
}

// TestSealedBoxesNameTheirKey: a box carries the id of the key that sealed
// it, so a box of another key is told apart from a damaged one, and boxes
// sealed before key ids existed still open.
func TestSealedBoxesNameTheirKey(t *testing.T) {
	p, err := NewProtector([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewProtector([]byte(strings.Repeat("o", 32)))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.KeyID()) != 8 || p.KeyID() == other.KeyID() {
		t.Fatalf("key ids %q and %q: want 8 hex digits, different for different secrets", p.KeyID(), other.KeyID())
	}
	sealed := other.Seal("王建国", "13805712345", "")
	if _, _, _, err := p.Open(sealed); !errors.Is(err, risk.ErrInvalid) || !strings.Contains(err.Error(), other.KeyID()) || !strings.Contains(err.Error(), p.KeyID()) {
		t.Errorf("opening another key's box: %v; want invalid, naming both keys", err)
	}
	if _, err := p.OpenBytes(other.SealBytes([]byte(`{"caseNo":"X"}`))); err == nil || !strings.Contains(err.Error(), other.KeyID()) {
		t.Errorf("opening another key's quarantined message: %v; want its key named", err)
	}

	// A version-1 box, as sealed before key ids: version || nonce || ciphertext.
	var tmp []byte
	v2, _ := base64.RawURLEncoding.DecodeString(string(p.appendSeal(nil, &tmp, []byte("王建国"), []byte("13805712345"), nil)))
	v1 := append([]byte{sealVersionNoID}, v2[1+keyIDLen:]...)
	name, phone, _, err := p.Open(base64.RawURLEncoding.EncodeToString(v1))
	if err != nil || name != "王建国" || phone != "13805712345" {
		t.Errorf("a box from before key ids: %q %q %v", name, phone, err)
	}
}

// TestKeyRotation: after a rotation the protector seals with the new secret,
// still opens what the old ones sealed (persons and quarantined messages),
// and hashes as the first secret did: a person's records before and after
// the rotation link.
func TestKeyRotation(t *testing.T) {
	k1, k2, k3 := []byte(strings.Repeat("1", 32)), []byte(strings.Repeat("2", 32)), []byte(strings.Repeat("3", 32))
	first, err := NewProtector(k1)
	if err != nil {
		t.Fatal(err)
	}
	before := first.Seal("王建国", "13805712345", "")
	quarantined := first.SealBytes([]byte(`{"caseNo":"X"}`))
	phoneKey, _ := first.PhoneKey("138-0571-2345")
	idKey, _ := first.IDKey("330681198001011234")

	second, err := NewKeyring(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	third, err := NewKeyring(k3, k1, k2)
	if err != nil {
		t.Fatal(err)
	}
	after := second.Seal("李四", "13905712345", "")
	for _, p := range []*Protector{second, third} {
		if name, _, _, err := p.Open(before); err != nil || name != "王建国" {
			t.Errorf("key %s: a box of the first key: %q, %v", p.KeyID(), name, err)
		}
		if raw, err := p.OpenBytes(quarantined); err != nil || string(raw) != `{"caseNo":"X"}` {
			t.Errorf("key %s: a quarantined message of the first key: %q, %v", p.KeyID(), raw, err)
		}
		if k, _ := p.PhoneKey("13805712345"); k != phoneKey {
			t.Errorf("key %s: the phone hashes to %s, before the rotation %s: links lost", p.KeyID(), k, phoneKey)
		}
		if k, _ := p.IDKey("330681198001011234"); k != idKey {
			t.Errorf("key %s: the ID hashes to %s, before the rotation %s: links lost", p.KeyID(), k, idKey)
		}
	}
	if name, _, _, err := third.Open(after); err != nil || name != "李四" {
		t.Errorf("the third key opening the second's box: %q, %v", name, err)
	}
	if second.KeyID() == first.KeyID() {
		t.Fatal("a rotated protector seals under the old key id")
	}
	if _, _, _, err := first.Open(after); !errors.Is(err, risk.ErrInvalid) || !strings.Contains(err.Error(), second.KeyID()) {
		t.Errorf("the old key opening a box of the new: %v; want invalid, naming the new key", err)
	}
	if _, err := NewKeyring(k2, k1, k2); !errors.Is(err, risk.ErrInvalid) {
		t.Errorf("the same secret twice in the ring: %v, want invalid", err)
	}
}
