package mfa

import (
	"math"
	"strconv"
	"testing"
)

func TestNewCodeFormat(t *testing.T) {
	for range 1000 {
		c := NewCode()
		if _, ok := NormalizeCode(c); !ok || c[0] == '-' {
			t.Fatalf("NewCode() = %q, want 6 ASCII digits", c)
		}
		if n, err := strconv.Atoi(c); err != nil || n < 0 || n >= codeSpace {
			t.Fatalf("NewCode() = %q out of range", c)
		}
	}
}

func TestCodeLimit(t *testing.T) {
	if codeLimit%codeSpace != 0 || codeLimit > math.MaxUint32 || math.MaxUint32-codeLimit >= codeSpace {
		t.Errorf("codeLimit %d is not the largest multiple of %d within a uint32", codeLimit, codeSpace)
	}
}

// TestNewCodeDistribution draws 20,000 codes and checks each position's
// digit counts with a chi-square test: every digit appears first, so
// leading zeros happen, and no position is visibly biased. The bound is
// the 0.9999 quantile of chi-square with 9 degrees of freedom, so a correct
// generator fails about once in 10,000 runs per position.
func TestNewCodeDistribution(t *testing.T) {
	const draws = 20000
	const chi2Limit = 33.72
	var counts [6][10]int
	distinct := map[string]bool{}
	for range draws {
		c := NewCode()
		distinct[c] = true
		for pos := range 6 {
			counts[pos][c[pos]-'0']++
		}
	}
	expected := float64(draws) / 10
	for pos := range 6 {
		chi2 := 0.0
		for d, n := range counts[pos] {
			if n == 0 {
				t.Errorf("digit %d never appeared at position %d", d, pos)
			}
			diff := float64(n) - expected
			chi2 += diff * diff / expected
		}
		if chi2 > chi2Limit {
			t.Errorf("position %d: chi-square %.1f > %.1f, counts %v", pos, chi2, chi2Limit, counts[pos])
		}
	}
	// 20,000 draws from a million values repeat about 200 times; a
	// generator with far less entropy would repeat much more.
	if len(distinct) < draws-600 {
		t.Errorf("%d distinct codes in %d draws", len(distinct), draws)
	}
}
