package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
)

// The demo workspace's branding, so that the first look at Gatehouse is a
// branded workspace: a display name, an accent that passes WCAG AA on
// white, and a logo drawn here (no image file to ship or license).
const (
	demoDisplayName = "Harbour & Pine Accountants"
	demoAccent      = "#0f6b5c"
)

// demoLogo draws the demo's logo mark: a pine tree over a harbour's
// waterline on a rounded square in the accent colour, 4× supersampled so
// its edges are smooth. It returns a PNG.
func demoLogo() ([]byte, error) {
	const size, ss = 96, 4
	accent := color.NRGBA{0x0f, 0x6b, 0x5c, 0xff}
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	// inside reports what covers the point (x, y) in 0..1 units: 0 nothing,
	// 1 the square, 2 the white mark.
	inside := func(x, y float64) int {
		const r = 0.2 // corner radius
		cx, cy := math.Max(r, math.Min(1-r, x)), math.Max(r, math.Min(1-r, y))
		if math.Hypot(x-cx, y-cy) > r {
			return 0
		}
		// Three stacked triangles of a pine, and its trunk.
		for _, t := range [][3]float64{{0.16, 0.40, 0.20}, {0.28, 0.54, 0.26}, {0.40, 0.68, 0.32}} {
			top, base, half := t[0], t[1], t[2]
			if y >= top && y <= base && math.Abs(x-0.5) <= half*(y-top)/(base-top) {
				return 2
			}
		}
		if y > 0.68 && y < 0.76 && math.Abs(x-0.5) < 0.05 {
			return 2
		}
		// Two waves of the harbour.
		for _, w := range []float64{0.80, 0.88} {
			if y > 0.14 && math.Abs(y-(w+0.025*math.Sin(x*4*math.Pi))) < 0.022 && x > 0.16 && x < 0.84 {
				return 2
			}
		}
		return 1
	}
	for py := range size {
		for px := range size {
			var cover, mark int
			for sy := range ss {
				for sx := range ss {
					switch inside((float64(px)+(float64(sx)+0.5)/ss)/size, (float64(py)+(float64(sy)+0.5)/ss)/size) {
					case 1:
						cover++
					case 2:
						cover++
						mark++
					}
				}
			}
			if cover == 0 {
				continue
			}
			// Blend the mark over the accent, then the coverage as alpha.
			f := float64(mark) / float64(cover)
			mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a)*(1-f) + float64(b)*f)) }
			img.SetNRGBA(px, py, color.NRGBA{mix(accent.R, white.R), mix(accent.G, white.G), mix(accent.B, white.B), uint8(255 * cover / (ss * ss))})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// brandDemo gives the demo workspace its branding, under the same checks
// as the owner's branding form (accent contrast, logo re-encoding), and
// returns the workspace as it now is: what is seeded after it (mail
// subjects among it) carries the brand.
func brandDemo(ctx context.Context, st gatehouse.WorkspaceStore, ws *gatehouse.Workspace, now time.Time) (*gatehouse.Workspace, error) {
	if c, err := account.ContrastOnWhite(demoAccent); err != nil || c < account.MinAccentContrast {
		return nil, fmt.Errorf("demo accent %s: contrast %.2f, %v", demoAccent, c, err)
	}
	raw, err := demoLogo()
	if err != nil {
		return nil, err
	}
	logo, err := account.NormalizeLogo(raw)
	if err != nil {
		return nil, err
	}
	return st.SetBrand(ctx, ws.ID, gatehouse.Brand{DisplayName: demoDisplayName, Accent: demoAccent},
		&gatehouse.Logo{ID: account.LogoID(logo), PNG: logo, UpdatedAt: now}, now, nil)
}
