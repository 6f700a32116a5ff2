package riskwatch

import (
	"errors"
	"testing"
)

// TestCaseMoves runs every action on every status: the allowed moves lead
// where the mediation practice says, every other is a conflict.
func TestCaseMoves(t *testing.T) {
	allowed := map[CaseStatus]map[CaseAction]CaseStatus{
		CasePending:    {ActAccept: CaseAccepted, ActEscalate: CasePending},
		CaseAccepted:   {ActStart: CaseMediating, ActRefer: CaseReferred, ActEscalate: CasePending},
		CaseMediating:  {ActSettle: CaseSettled, ActTerminate: CaseTerminated, ActRefer: CaseReferred, ActEscalate: CasePending},
		CaseSettled:    {ActReopen: CaseAccepted},
		CaseTerminated: {ActReopen: CaseAccepted},
		CaseReferred:   {ActReopen: CaseAccepted},
	}
	for _, from := range CaseStatuses {
		for _, a := range CaseActions() {
			got, err := from.Apply(a)
			want, ok := allowed[from][a]
			switch {
			case ok && (err != nil || got != want):
				t.Errorf("%s on %s = %s, %v; want %s", a, from, got, err, want)
			case !ok && !errors.Is(err, ErrConflict):
				t.Errorf("%s on %s = %s, %v; want a conflict", a, from, got, err)
			case !ok && got != from:
				t.Errorf("refused %s on %s moved the case to %s", a, from, got)
			}
		}
	}
	if _, err := CasePending.Apply("archive"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown action: got %v, want ErrInvalid", err)
	}
}

func TestCaseStatusOpen(t *testing.T) {
	for _, s := range CaseStatuses {
		want := s == CasePending || s == CaseAccepted || s == CaseMediating
		if s.Open() != want {
			t.Errorf("%s.Open() = %v, want %v", s, s.Open(), want)
		}
		if s.Name() == string(s) {
			t.Errorf("%s has no Chinese name", s)
		}
	}
}

func TestTierOf(t *testing.T) {
	for code, want := range map[string]Tier{
		"330681109201": TierVillage, "330681109": TierTownship, "330681": TierCounty, "330600": TierCity,
	} {
		r, err := ParseRegion(code)
		if err != nil {
			t.Fatal(err)
		}
		if got := TierOf(r); got != want {
			t.Errorf("TierOf(%s) = %s, want %s", code, got, want)
		}
	}
}
