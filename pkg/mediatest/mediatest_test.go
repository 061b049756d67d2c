package mediatest

import (
	"bytes"
	"io"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/media"
)

func TestFileIsDetected(t *testing.T) {
	for _, f := range []media.Format{media.JPEG, media.PNG, media.GIF, media.AMR, media.MP3, media.MP4} {
		t.Run(string(f), func(t *testing.T) {
			b := File(f, 1000)
			if got := media.Detect(b); got != f {
				t.Errorf("Detect(File(%s)) = %q, want %q", f, got, f)
			}
			streamed, err := io.ReadAll(Reader(f, 1000))
			if err != nil || !bytes.Equal(streamed, b) {
				t.Errorf("Reader(%s) differs from File (err %v)", f, err)
			}
		})
	}
}
