package account

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Logo limits (SPEC §16). A logo is shown at most 64 px high (32 px on a
// screen of double density), so the stored image is scaled to fit
// LogoMaxWidth × LogoMaxHeight.
const (
	// MaxLogoBytes is the largest upload accepted.
	MaxLogoBytes = 256 << 10
	// MaxLogoSide and MaxLogoPixels bound an upload's dimensions, read from
	// its header before any pixel is decoded: a small file can claim a huge
	// image (a decompression bomb) whose pixels would fill the memory.
	MaxLogoSide   = 4096
	MaxLogoPixels = 4 << 20
	// LogoMaxWidth and LogoMaxHeight bound the stored logo.
	LogoMaxWidth  = 640
	LogoMaxHeight = 128
)

var (
	// ErrLogoTooBig reports an upload over MaxLogoBytes.
	ErrLogoTooBig = errors.New("the logo file is larger than 256 KiB")
	// ErrLogoSVG reports an SVG upload, refused because SVG can carry script.
	ErrLogoSVG = errors.New("SVG logos are not accepted")
	// ErrLogoFormat reports a file that is not a PNG, JPEG or WebP image.
	ErrLogoFormat = errors.New("the logo must be a PNG, JPEG or WebP image")
	// ErrLogoDimensions reports an image larger than MaxLogoSide or MaxLogoPixels.
	ErrLogoDimensions = errors.New("the logo image is too large in pixels")
)

// decoders are the formats a logo may come in; image.Decode's global
// registry is not used, so no other package can widen the list.
var decoders = map[string]struct {
	config func(*bytes.Reader) (image.Config, error)
	decode func(*bytes.Reader) (image.Image, error)
}{
	"png":  {func(r *bytes.Reader) (image.Config, error) { return png.DecodeConfig(r) }, func(r *bytes.Reader) (image.Image, error) { return png.Decode(r) }},
	"jpeg": {func(r *bytes.Reader) (image.Config, error) { return jpeg.DecodeConfig(r) }, func(r *bytes.Reader) (image.Image, error) { return jpeg.Decode(r) }},
	"webp": {func(r *bytes.Reader) (image.Config, error) { return webp.DecodeConfig(r) }, func(r *bytes.Reader) (image.Image, error) { return webp.Decode(r) }},
}

// logoFormat names the format of data from its magic bytes, "svg" for
// what looks like SVG (or any XML), "" for anything else.
func logoFormat(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "jpeg"
	case len(data) >= 12 && bytes.Equal(data[:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WEBP")):
		return "webp"
	}
	head := bytes.TrimLeft(data[:min(len(data), 1024)], "\xef\xbb\xbf \t\r\n")
	if bytes.HasPrefix(head, []byte("<")) || bytes.Contains(bytes.ToLower(data[:min(len(data), 4096)]), []byte("<svg")) {
		return "svg"
	}
	return ""
}

// NormalizeLogo checks an uploaded logo and returns it as a new PNG, scaled
// down to fit LogoMaxWidth × LogoMaxHeight: what is served is always pixels
// this code drew, never the uploaded bytes, so trailing data, metadata or a
// file that is an image and something else at once (a polyglot) is gone.
func NormalizeLogo(data []byte) ([]byte, error) {
	if len(data) > MaxLogoBytes {
		return nil, ErrLogoTooBig
	}
	format := logoFormat(data)
	if format == "svg" {
		return nil, ErrLogoSVG
	}
	dec, ok := decoders[format]
	if !ok {
		return nil, ErrLogoFormat
	}
	cfg, err := dec.config(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLogoFormat, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, ErrLogoFormat
	}
	if cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide || cfg.Width*cfg.Height > MaxLogoPixels {
		return nil, ErrLogoDimensions
	}
	img, err := dec.decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLogoFormat, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > LogoMaxWidth || h > LogoMaxHeight {
		scale := min(float64(LogoMaxWidth)/float64(w), float64(LogoMaxHeight)/float64(h))
		w, h = max(1, int(float64(w)*scale)), max(1, int(float64(h)*scale))
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, dst); err != nil {
		return nil, fmt.Errorf("encode logo: %w", err)
	}
	return out.Bytes(), nil
}

// LogoID names a stored logo by its content, for cache-busting URLs.
func LogoID(png []byte) string {
	sum := sha256.Sum256(png)
	return hex.EncodeToString(sum[:8])
}
