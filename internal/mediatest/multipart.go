package mediatest

import (
	"errors"
	"io"
	"net/http"
)

// DrainMultipart reads a multipart/form-data request as it streams in,
// keeping nothing, and returns the size of the part named field: what a
// benchmark's stand-in for WeChat needs to check that all bytes arrived.
func DrainMultipart(r *http.Request, field string) (int64, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return 0, err
	}
	var n int64
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		c, err := io.Copy(io.Discard, p)
		if err != nil {
			return n, err
		}
		if p.FormName() == field {
			n += c
		}
	}
}
