package mediatest

import "github.com/wxmedia/wxmedia/pkg/media"

// Object is a sample object of the media bucket.
type Object struct {
	Key, ContentType string
	Data             []byte
}

// SampleKey is the sample JPEG's key: the object whose {"key"} upload
// make local's banner suggests.
const SampleKey = "upload/image/test.jpg"

// SampleMediaID is the media_id the get events of events/ name: make
// local's WeChat simulator holds the sample JPEG under it from the start,
// so that they work as they are, and the tests put their own media_id in
// its place.
const SampleMediaID = "MEDIA_ID"

// notAnImage is what not-really-an-image.jpg holds: 64 bytes, as
// events/s3-put-batch.json says.
const notAnImage = "This is plain text saved as a .jpg file: WeChat must refuse it.\n"

// Objects are the objects the events in events/ name (the {"key"} routes'
// and the S3 notifications'), and SampleKey's: make local puts them into
// its bucket and the tests into theirs, so that every sample event works
// as it is. Where an event gives an object's size and ETag, the object is
// the Sample that has them; the others are real pictures, so that what
// make local answers for them can be opened.
func Objects() []Object {
	jpg, png := JPEG(), PNG()
	return []Object{
		{SampleKey, "image/jpeg", jpg},
		{"upload/thumb/thumb.jpg", "image/jpeg", jpg},                                  // apigw-upload-key
		{"uploadimg/banner.png", "image/png", png},                                     // apigw-uploadimg-key, direct-uploadimg-key
		{"upload/image/holiday photo (1).jpg", "image/jpeg", Sample(media.JPEG, 2048)}, // s3-put-upload-image
		{"uploadimg/banner图.png", "image/png", Sample(media.PNG, 4096)},                // s3-put-uploadimg
		{"upload/voice/greeting.mp3", "audio/mpeg", Sample(media.MP3, 4096)},           // s3-put-batch, direct-upload-key
		{"upload/video/clip.mp4", "video/mp4", Sample(media.MP4, 8192)},                // s3-put-batch
		{"upload/video/trailer.mp4", "video/mp4", Sample(media.MP4, 8192)},             // sqs-s3-put
		{"uploadimg/海报 1.png", "image/png", Sample(media.PNG, 4096)},                   // eventbridge-object-created
		{"upload/image/not-really-an-image.jpg", "image/jpeg", []byte(notAnImage)},     // s3-put-batch
	}
}
