package media

import "io"

// This file is a copy of internal/mediatest's Sample and SampleReader, kept for
// the tests of packages being rewritten elsewhere (pkg/bucket,
// pkg/httpapi, pkg/transfer, pkg/wechat). Delete it, and sample_test.go,
// once they use mediatest's; sample_test.go keeps the two alike until then.

// sampleMagic are the first bytes Detect reads as each format.
var sampleMagic = map[Format][]byte{
	JPEG: {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00},
	PNG:  []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
	GIF:  []byte("GIF89a\x01\x00\x01\x00"),
	AMR:  []byte("#!AMR\n"),
	MP3:  []byte("ID3\x04\x00\x00\x00\x00\x00\x00"),
	MP4:  {0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p', 'm', 'p', '4', '2', 0, 0, 0, 0},
}

// Sample returns size bytes that Detect reads as f (at least its magic
// bytes, whatever size says), padded with a deterministic pattern so that
// a copy can be checked byte for byte: sample objects for the local
// runner, benchmarks and tests.
//
// Deprecated: use mediatest.Sample (internal/mediatest), the same bytes.
func Sample(f Format, size int) []byte {
	m := sampleMagic[f]
	if size < len(m) {
		size = len(m)
	}
	b := make([]byte, size)
	copy(b, m)
	samplePattern(b[len(m):], int64(len(m)))
	return b
}

// samplePattern writes the byte i%251 at each offset i.
func samplePattern(b []byte, off int64) {
	for i := range b {
		b[i] = byte((off + int64(i)) % 251)
	}
}

// SampleReader streams the same bytes as Sample(f, size) without holding them.
//
// Deprecated: use mediatest.SampleReader (internal/mediatest), the same bytes.
func SampleReader(f Format, size int64) io.Reader {
	m := sampleMagic[f]
	if size < int64(len(m)) {
		size = int64(len(m))
	}
	return &sampleReader{head: m, size: size}
}

type sampleReader struct {
	head []byte
	off  int64
	size int64
}

func (r *sampleReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if int64(len(p)) > r.size-r.off {
		p = p[:r.size-r.off]
	}
	n := 0
	if r.off < int64(len(r.head)) {
		n = copy(p, r.head[r.off:])
	}
	samplePattern(p[n:], r.off+int64(n))
	r.off += int64(len(p))
	return len(p), nil
}
