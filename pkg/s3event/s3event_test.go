package s3event_test

import (
	"testing"

	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/s3event"
)

func TestTypeOf(t *testing.T) {
	tests := []struct {
		key  string
		want media.Type
		ok   bool
	}{
		{"upload/image/a.jpg", media.Image, true},
		{"upload/voice/dir/b.mp3", media.Voice, true},
		{"upload/sticker/c.png", "sticker", true}, // refused, and recorded, as 40004
		{"uploadimg/banner.png", media.ArticleImage, true},
		{"uploadimg/", "", false},
		{"upload/image/", "", false},
		{"upload/image", "", false},
		{"results/upload/image/a.jpg.json", "", false},
		{"media/abc.jpg", "", false},
		{"samples/test.jpg", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := s3event.TypeOf(tt.key)
			if got != tt.want || ok != tt.ok {
				t.Errorf("TypeOf(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
			}
		})
	}
}
