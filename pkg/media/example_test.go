package media_test

import (
	"fmt"

	"github.com/wxmedia/wxmedia/pkg/media"
)

func ExampleRules_Check() {
	rules := media.DefaultRules()
	head := []byte{0xFF, 0xD8, 0xFF, 0xE0} // whatever the file is called, this is a JPEG
	f := media.Detect(head)
	fmt.Println(f, f.Filename())
	fmt.Println(rules.Check(media.Thumb, f, 60*media.KB))
	fmt.Println(rules.Check(media.Thumb, f, 65*media.KB))
	fmt.Println(rules.Check(media.Voice, f, 1000))
	// Output:
	// jpg media.jpg
	// <nil>
	// invalid thumb size: 66560 bytes, the limit is 65536
	// invalid file type: voice is jpg, want amr/mp3
}
