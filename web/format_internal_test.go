package web

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestDayFormatsMatchLayout holds formatDay and formatDayTime to
// time.Format with their layouts, across years, months, days, hours,
// minutes and zones, including the years they hand to Format.
func TestDayFormatsMatchLayout(t *testing.T) {
	times := []time.Time{{}, time.Unix(0, 0).UTC(), time.Unix(1<<40, 0).UTC()}
	for _, y := range []int{-5, 0, 1, 999, 1000, 1999, 2039, 9999, 10000, 123456} {
		for m := time.January; m <= time.December; m++ {
			times = append(times, time.Date(y, m, 1, 0, 0, 0, 0, time.UTC), time.Date(y, m, 28, 23, 59, 59, 0, time.UTC))
		}
	}
	zone := time.FixedZone("x", -(9*3600 + 30*60))
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		ts := time.Unix(r.Int64N(400*365*86400)-100*365*86400, r.Int64N(1e9))
		times = append(times, ts.UTC(), ts.In(zone))
	}
	for _, ts := range times {
		if got, want := formatDay(ts), ts.Format(dayFormat); got != want {
			t.Errorf("formatDay(%v) = %q, want %q", ts, got, want)
		}
		if got, want := formatDayTime(ts), ts.Format(timeFormat); got != want {
			t.Errorf("formatDayTime(%v) = %q, want %q", ts, got, want)
		}
	}
}

// TestHumanSizeMatchesFmt holds humanSize to the wording it had with fmt.
func TestHumanSizeMatchesFmt(t *testing.T) {
	want := func(n int64) string {
		switch {
		case n >= 1<<20:
			v := float64(n) / (1 << 20)
			if v == float64(int64(v)) {
				return fmt.Sprintf("%d MB", int64(v))
			}
			return fmt.Sprintf("%.1f MB", v)
		case n >= 1<<10:
			return fmt.Sprintf("%d KB", (n+512)>>10)
		}
		return fmt.Sprintf("%d bytes", n)
	}
	sizes := []int64{-1, 0, 1, 1023, 1024, 1535, 1536, 1<<20 - 1, 1 << 20, 1<<20 + 1, 5 << 20, 5<<20 + 52428, 5<<20 + 52429, 1 << 40, 1<<63 - 1}
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		sizes = append(sizes, r.Int64N(1<<34))
	}
	for _, n := range sizes {
		if got := humanSize(n); got != want(n) {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want(n))
		}
	}
}
