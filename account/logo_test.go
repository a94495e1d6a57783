package account_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/account"
)

// Tiny WebP files (Modernizr's feature probes): one lossless, one lossy pixel.
const (
	webpLossless = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="
	webpLossy    = "UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA"
)

func testImage(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 0x80, 0xff})
		}
	}
	return img
}

func encodePNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// claimSize rewrites a PNG's header to claim w × h pixels (with a valid
// checksum), as a decompression bomb does: the file stays tiny.
func claimSize(tb testing.TB, p []byte, w, h uint32) []byte {
	tb.Helper()
	p = bytes.Clone(p)
	// 8-byte signature, then the IHDR chunk: length, "IHDR", width, height, ...
	binary.BigEndian.PutUint32(p[16:], w)
	binary.BigEndian.PutUint32(p[20:], h)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

func mustBase64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestNormalizeLogoRefuses(t *testing.T) {
	small := encodePNG(t, testImage(4, 4))
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{name: "SVG", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), want: account.ErrLogoSVG},
		{name: "SVG after an XML declaration and BOM", data: []byte("\xef\xbb\xbf<?xml version=\"1.0\"?>\n<svg/>"), want: account.ErrLogoSVG},
		{name: "HTML", data: []byte("<!doctype html><p>hi"), want: account.ErrLogoSVG},
		{name: "GIF", data: []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), want: account.ErrLogoFormat},
		{name: "bad bytes", data: []byte("not an image at all"), want: account.ErrLogoFormat},
		{name: "empty", data: []byte{}, want: account.ErrLogoFormat},
		{name: "PNG signature, broken body", data: append([]byte("\x89PNG\r\n\x1a\n"), strings.Repeat("x", 40)...), want: account.ErrLogoFormat},
		{name: "truncated PNG", data: small[:len(small)-20], want: account.ErrLogoFormat},
		{name: "over 256 KiB", data: append(bytes.Clone(small), make([]byte, account.MaxLogoBytes)...), want: account.ErrLogoTooBig},
		{name: "bomb: 100000 × 100000 claimed", data: claimSize(t, small, 100000, 100000), want: account.ErrLogoDimensions},
		{name: "too wide", data: encodePNG(t, image.NewGray(image.Rect(0, 0, account.MaxLogoSide+1, 1))), want: account.ErrLogoDimensions},
		{name: "too many pixels", data: encodePNG(t, image.NewGray(image.Rect(0, 0, 2100, 2100))), want: account.ErrLogoDimensions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := account.NormalizeLogo(tt.data)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("NormalizeLogo = %d bytes, %v; want %v", len(got), err, tt.want)
			}
		})
	}
}

// TestNormalizeLogoRedraws: what comes out is always a fresh PNG, never the
// upload: trailing data (a PNG that is also an HTML page) is gone, JPEG and
// WebP become PNG, and a large image is scaled down to fit.
func TestNormalizeLogoRedraws(t *testing.T) {
	img := testImage(40, 20)
	plain := encodePNG(t, img)
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, img, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		data   []byte
		w, h   int
		pixels image.Image // when set, the output must show these pixels
	}{
		{name: "PNG", data: plain, w: 40, h: 20, pixels: img},
		{name: "PNG with a script after IEND", data: append(bytes.Clone(plain), "<script>alert(document.cookie)</script>"...), w: 40, h: 20, pixels: img},
		{name: "JPEG", data: jpg.Bytes(), w: 40, h: 20},
		{name: "WebP lossless", data: mustBase64(t, webpLossless), w: 1, h: 1},
		{name: "WebP lossy", data: mustBase64(t, webpLossy), w: 1, h: 1},
		{name: "wide, scaled to 640 across", data: encodePNG(t, testImage(1280, 100)), w: 640, h: 50},
		{name: "tall, scaled to 128 high", data: encodePNG(t, testImage(256, 512)), w: 64, h: 128},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := account.NormalizeLogo(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(out, tt.data) {
				t.Fatal("the upload came back as it was")
			}
			if bytes.Contains(out, []byte("<script")) {
				t.Fatal("the output carries the upload's trailing script")
			}
			got, err := png.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("output is not a PNG: %v", err)
			}
			if b := got.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Fatalf("output is %d × %d, want %d × %d", b.Dx(), b.Dy(), tt.w, tt.h)
			}
			if tail := out[len(out)-12:]; !bytes.Equal(tail[4:8], []byte("IEND")) {
				t.Fatalf("output does not end with IEND: %q", tail)
			}
			if tt.pixels != nil {
				for _, p := range []image.Point{{0, 0}, {39, 19}, {17, 3}} {
					r1, g1, b1, a1 := got.At(p.X, p.Y).RGBA()
					r2, g2, b2, a2 := tt.pixels.At(p.X, p.Y).RGBA()
					if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
						t.Fatalf("pixel %v changed", p)
					}
				}
			}
			if account.LogoID(out) == "" || account.LogoID(out) == account.LogoID(tt.data) {
				t.Fatal("LogoID does not name the output")
			}
		})
	}
}
