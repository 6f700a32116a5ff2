// Package desktest holds what tests of the desks share: the parties an
// alert's evidence names and a sealer for their contacts, standing in for
// ClickHouse's records and the personal-data key.
package desktest

import (
	"context"
	"errors"
	"strings"

	risk "riskwatch"
	"riskwatch/desk"
)

// ClearPhone is the party's phone in clear: only a reveal by the case's
// mediator may ever answer it.
const ClearPhone = "13805712345"

// Parties names the same caller for every evidence: masked, with a sealed
// contact.
type Parties struct{}

// Parties implements the store's party finder.
func (Parties) Parties(context.Context, []risk.Evidence) ([]desk.Party, error) {
	return []desk.Party{{Key: "pk-wang", Role: "caller", Name: "王*国", Phone: "138****2345", Sealed: "sealed:王建国:" + ClearPhone}}, nil
}

// Sealer opens the contacts Parties sealed: "sealed:NAME:PHONE".
type Sealer struct{}

// Unseal implements the store's unsealer.
func (Sealer) Unseal(s string) (desk.Contact, error) {
	f := strings.Split(s, ":")
	if len(f) != 3 || f[0] != "sealed" {
		return desk.Contact{}, errors.New("not sealed by the test")
	}
	return desk.Contact{Name: f[1], Phone: f[2]}, nil
}
