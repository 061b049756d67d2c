package media_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// The deprecated Sample and SampleReader make mediatest's bytes, so that
// the tests still on them and those on mediatest agree on every sample.
// It goes with sample.go.
func TestSampleIsMediatests(t *testing.T) {
	for _, f := range []media.Format{media.JPEG, media.PNG, media.GIF, media.AMR, media.MP3, media.MP4} {
		for _, size := range []int{0, 1000} {
			want := mediatest.Sample(f, size)
			if got := media.Sample(f, size); !bytes.Equal(got, want) {
				t.Errorf("Sample(%s, %d) differs from mediatest.Sample", f, size)
			}
			if got, err := io.ReadAll(media.SampleReader(f, int64(size))); err != nil || !bytes.Equal(got, want) {
				t.Errorf("SampleReader(%s, %d) differs from mediatest.Sample (err %v)", f, size, err)
			}
		}
	}
}
