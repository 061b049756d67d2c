package main

import (
	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/mediatest"
)

// seed puts the sample objects into the embedded bucket, without firing
// the trigger: the objects the sample events in events/ name (the {"key"}
// routes' and the S3 events'), so that `make invoke` finds them.
func seed(s3 *localaws.S3, bucket string) (int, error) {
	objects := mediatest.Objects()
	for _, o := range objects {
		if err := s3.Put(bucket, o.Key, o.ContentType, o.Data); err != nil {
			return 0, err
		}
	}
	return len(objects), nil
}
