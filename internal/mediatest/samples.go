package mediatest

import "github.com/wxmedia/wxmedia/pkg/media"

// Samples are the objects the events in events/ name, by key: the local
// runner puts them into its bucket and the tests into theirs, so every
// sample event works as it is.
func Samples() map[string][]byte {
	return map[string][]byte{
		"upload/image/test.jpg":                media.Sample(media.JPEG, 2048),
		"upload/thumb/thumb.jpg":               media.Sample(media.JPEG, 8<<10),
		"uploadimg/banner.png":                 media.Sample(media.PNG, 4096),
		"upload/image/holiday photo (1).jpg":   media.Sample(media.JPEG, 2048),
		"uploadimg/banner图.png":                media.Sample(media.PNG, 4096),
		"upload/voice/greeting.mp3":            media.Sample(media.MP3, 4096),
		"upload/video/clip.mp4":                media.Sample(media.MP4, 8192),
		"upload/video/trailer.mp4":             media.Sample(media.MP4, 8192),
		"uploadimg/海报 1.png":                   media.Sample(media.PNG, 4096),
		"upload/image/not-really-an-image.jpg": []byte("this is text, not a JPEG, whatever its name says\n"),
	}
}
