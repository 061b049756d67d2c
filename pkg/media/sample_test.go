package media_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/media"
)

func TestSampleIsDetected(t *testing.T) {
	for _, f := range []media.Format{media.JPEG, media.PNG, media.GIF, media.AMR, media.MP3, media.MP4} {
		t.Run(string(f), func(t *testing.T) {
			b := media.Sample(f, 1000)
			if got := media.Detect(b); got != f {
				t.Errorf("Detect(Sample(%s)) = %q, want %q", f, got, f)
			}
			streamed, err := io.ReadAll(media.SampleReader(f, 1000))
			if err != nil || !bytes.Equal(streamed, b) {
				t.Errorf("SampleReader(%s) differs from Sample (err %v)", f, err)
			}
		})
	}
}
