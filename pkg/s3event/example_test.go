package s3event_test

import (
	"fmt"

	"github.com/wxmedia/wxmedia/pkg/s3event"
)

func ExampleTypeOf() {
	for _, key := range []string{"upload/voice/hello.mp3", "uploadimg/banner.png", "results/upload/voice/hello.mp3.json"} {
		t, ok := s3event.TypeOf(key)
		fmt.Printf("%s: %q %v\n", key, t, ok)
	}
	// Output:
	// upload/voice/hello.mp3: "voice" true
	// uploadimg/banner.png: "uploadimg" true
	// results/upload/voice/hello.mp3.json: "" false
}
