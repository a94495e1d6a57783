package mfa

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// The hot paths of the gate, run on every request or code typed; see
// `gatehouse bench` for the whole stack.

func BenchmarkDecide(b *testing.B) {
	now := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	s := gatehouse.DefaultMFASettings(now)
	s.Mode = gatehouse.MFARequired
	in := Input{Plan: gatehouse.PlanPro, Settings: s, Methods: []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail},
		HasRecoveryCodes: true, UserCreatedAt: now, Now: now}
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(in); d.Next != Challenge {
			b.Fatal(d.Next)
		}
	}
}

func BenchmarkMatchTOTP(b *testing.B) {
	now := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	secret, err := NewTOTPSecret()
	if err != nil {
		b.Fatal(err)
	}
	code, err := TOTPCode(secret, now)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := MatchTOTP(secret, code, now); !ok {
			b.Fatal("no match")
		}
	}
}
