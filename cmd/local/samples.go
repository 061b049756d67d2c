package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"

	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// SampleKey is the sample JPEG's key in the embedded bucket.
const SampleKey = "upload/image/test.jpg"

// sampleImage is a small gradient: a real picture, so that what comes back
// from get can be opened.
func sampleImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 120, 80))
	for y := range 80 {
		for x := range 120 {
			img.Set(x, y, color.RGBA{R: uint8(7 + x*2), G: uint8(193 - y), B: 96, A: 255}) // WeChat green, more or less
		}
	}
	return img
}

// SampleJPEG is a small real JPEG.
func SampleJPEG() []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, sampleImage(), &jpeg.Options{Quality: 80}); err != nil {
		panic(fmt.Sprintf("encode sample jpeg: %v", err)) // cannot fail on an in-memory image
	}
	return b.Bytes()
}

// SamplePNG is a small real PNG.
func SamplePNG() []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, sampleImage()); err != nil {
		panic(fmt.Sprintf("encode sample png: %v", err))
	}
	return b.Bytes()
}

// seed puts sample objects into the embedded bucket, without firing the
// trigger: the objects the sample events in events/ name (the {"key"}
// routes' and the S3 events'), so that `make invoke` finds them.
func seed(s3 *localaws.S3, bucket string) (int, error) {
	jpg, pngData := SampleJPEG(), SamplePNG()
	objects := []struct {
		key, contentType string
		data             []byte
	}{
		{SampleKey, "image/jpeg", jpg},
		{"upload/thumb/thumb.jpg", "image/jpeg", jpg},
		{"uploadimg/banner.png", "image/png", pngData},
		// The objects events/s3-*.json refer to.
		{"upload/image/holiday photo (1).jpg", "image/jpeg", jpg},
		{"upload/voice/greeting.mp3", "audio/mpeg", media.Sample(media.MP3, 4096)},
		{"upload/video/clip.mp4", "video/mp4", media.Sample(media.MP4, 8192)},
		{"upload/image/not-really-an-image.jpg", "image/jpeg", []byte("This is plain text saved with a .jpg name: WeChat must refuse it.\n")},
		{"uploadimg/banner图.png", "image/png", pngData},
	}
	for _, o := range objects {
		if err := s3.Put(bucket, o.key, o.contentType, o.data); err != nil {
			return 0, err
		}
	}
	return len(objects), nil
}
