package main

import (
	"os"
	"testing"
)

// TestMain runs the program itself instead of the tests when the memory
// check of `gatehouse bench` starts this test binary as its server (its
// executable is this binary, not gatehouse).
func TestMain(m *testing.M) {
	if os.Getenv(benchChildEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}
