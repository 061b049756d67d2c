package mediatest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// picture is a small gradient, 120×80: a real picture, so that what comes
// back from get can be opened.
func picture() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 120, 80))
	for y := range 80 {
		for x := range 120 {
			img.Set(x, y, color.RGBA{R: uint8(7 + x*2), G: uint8(193 - y), B: 96, A: 255}) // WeChat green, more or less
		}
	}
	return img
}

// JPEG is a small real JPEG (1,178 bytes).
func JPEG() []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, picture(), &jpeg.Options{Quality: 80}); err != nil {
		panic(fmt.Sprintf("encode sample jpeg: %v", err)) // cannot fail on an in-memory image
	}
	return b.Bytes()
}

// PNG is a small real PNG (266 bytes).
func PNG() []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, picture()); err != nil {
		panic(fmt.Sprintf("encode sample png: %v", err))
	}
	return b.Bytes()
}
