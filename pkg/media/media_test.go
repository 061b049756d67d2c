package media_test

import (
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want media.Format
	}{
		{"JPEG", mediatest.Sample(media.JPEG, 32), media.JPEG},
		{"PNG", mediatest.Sample(media.PNG, 32), media.PNG},
		{"GIF87a", []byte("GIF87a......"), media.GIF},
		{"AMR", []byte("#!AMR\n\x3c"), media.AMR},
		{"MP3WithID3", []byte("ID3\x03\x00"), media.MP3},
		{"MP3FrameSync", []byte{0xFF, 0xFB, 0x90, 0x64}, media.MP3},
		{"MP4", mediatest.Sample(media.MP4, 32), media.MP4},
		{"MP4isom", []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00"), media.MP4},
		{"QuickTimeIsNotMP4", []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00"), ""},
		{"HEICIsNotMP4", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"), ""},
		{"M4AIsNotMP4", []byte("\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00"), ""},
		{"JPEGNameButText", []byte("this is not a jpeg"), ""},
		{"Empty", nil, ""},
		{"JSON", []byte(`{"errcode":40007}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := media.Detect(tt.head); got != tt.want {
				t.Errorf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	rules := media.DefaultRules()
	tests := []struct {
		name     string
		typ      media.Type
		format   media.Format
		size     int64
		wantCode int // 0 for accepted
	}{
		{"OKImage10MB", media.Image, media.JPEG, 10 * media.MB, 0},
		{"OKImagePNG", media.Image, media.PNG, 1000, 0},
		{"OKImageGIF", media.Image, media.GIF, 1000, 0},
		{"ErrImageTooLarge", media.Image, media.JPEG, 10*media.MB + 1, failure.CodeInvalidImageSize},
		{"OKVoiceAMR", media.Voice, media.AMR, 2 * media.MB, 0},
		{"OKVoiceMP3", media.Voice, media.MP3, 1000, 0},
		{"ErrVoiceTooLarge", media.Voice, media.MP3, 2*media.MB + 1, failure.CodeInvalidVoiceSize},
		{"ErrVoiceJPEG", media.Voice, media.JPEG, 1000, failure.CodeInvalidFileType},
		{"OKVideo", media.Video, media.MP4, 10 * media.MB, 0},
		{"ErrVideoTooLarge", media.Video, media.MP4, 10*media.MB + 1, failure.CodeInvalidVideoSize},
		{"OKThumb", media.Thumb, media.JPEG, 64 * media.KB, 0},
		{"ErrThumbPNG", media.Thumb, media.PNG, 1000, failure.CodeInvalidFileType},
		{"ErrThumbTooLarge", media.Thumb, media.JPEG, 64*media.KB + 1, failure.CodeInvalidThumbSize},
		{"OKArticleImage", media.ArticleImage, media.PNG, 1 * media.MB, 0},
		{"ErrArticleImageGIF", media.ArticleImage, media.GIF, 1000, failure.CodeInvalidFileType},
		{"ErrArticleImageTooLarge", media.ArticleImage, media.JPEG, media.MB + 1, failure.CodeInvalidImageSize},
		{"ErrUnknownFormat", media.Image, "", 1000, failure.CodeInvalidFileType},
		{"ErrEmpty", media.Image, media.JPEG, 0, failure.CodeMediaMissing},
		{"ErrUnknownType", media.Type("file"), media.JPEG, 1000, failure.CodeInvalidMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rules.Check(tt.typ, tt.format, tt.size)
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if failure.KindOf(err) != failure.Caller || failure.CodeOf(err) != tt.wantCode {
				t.Errorf("Check = %v (kind %v, errcode %d), want the caller's failure %d", err, failure.KindOf(err), failure.CodeOf(err), tt.wantCode)
			}
		})
	}
}

func TestWithLimits(t *testing.T) {
	rules, err := media.DefaultRules().WithLimits("image=2MB, thumb=32KB,voice=1000")
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[media.Type]int64{media.Image: 2 * media.MB, media.Thumb: 32 * media.KB, media.Voice: 1000, media.Video: 10 * media.MB} {
		if got := rules[typ].MaxSize; got != want {
			t.Errorf("%s limit = %d, want %d", typ, got, want)
		}
	}
	if media.DefaultRules()[media.Image].MaxSize != 10*media.MB {
		t.Error("WithLimits changed the defaults it was called on")
	}
	for _, bad := range []string{"image", "image=big", "sticker=1MB", "image=-1", "image=0"} {
		if _, err := media.DefaultRules().WithLimits(bad); err == nil {
			t.Errorf("WithLimits(%q) = nil error, want one", bad)
		}
	}
}

func TestParseType(t *testing.T) {
	for _, ok := range []string{"image", "voice", "video", "thumb"} {
		if got, err := media.ParseType(ok); err != nil || string(got) != ok {
			t.Errorf("ParseType(%q) = %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{"", "IMAGE", "uploadimg", "file", "image\x00"} {
		if _, err := media.ParseType(bad); failure.KindOf(err) != failure.Caller || failure.CodeOf(err) != failure.CodeInvalidMediaType {
			t.Errorf("ParseType(%q) error = %v, want errcode 40004", bad, err)
		}
	}
}

func TestFilenameIsASCIIFromFormat(t *testing.T) {
	if got := media.JPEG.Filename(); got != "media.jpg" {
		t.Errorf("JPEG.Filename() = %q, want media.jpg", got)
	}
	if got := media.FormatOf("image/png; charset=binary"); got != media.PNG {
		t.Errorf("FormatOf(image/png) = %q", got)
	}
	if got := media.FormatOf(".JPEG"); got != media.JPEG {
		t.Errorf("FormatOf(.JPEG) = %q", got)
	}
}

func FuzzDetect(f *testing.F) {
	for _, s := range [][]byte{mediatest.Sample(media.JPEG, 16), mediatest.Sample(media.MP4, 16), {0xFF, 0xFB}, []byte("#!AMR\n"), nil} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		got := media.Detect(head)
		if got == "" {
			return
		}
		// Whatever is detected must be stable under more trailing bytes.
		if again := media.Detect(append(append([]byte(nil), head...), 0, 1, 2)); again != got {
			t.Errorf("Detect changed from %q to %q with trailing bytes", got, again)
		}
		if got.Ext() == "" || got.ContentType() == "application/octet-stream" {
			t.Errorf("detected %q has no extension or content type", got)
		}
	})
}
