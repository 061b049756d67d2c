package trigger_test

import (
	"fmt"

	"github.com/wxmedia/wxmedia/pkg/trigger"
)

func ExampleTypeOf() {
	for _, key := range []string{"upload/voice/hello.mp3", "uploadimg/banner.png", "results/upload/voice/hello.mp3.json"} {
		t, ok := trigger.TypeOf(key)
		fmt.Printf("%s: %q %v\n", key, t, ok)
	}
	// Output:
	// upload/voice/hello.mp3: "voice" true
	// uploadimg/banner.png: "uploadimg" true
	// results/upload/voice/hello.mp3.json: "" false
}
