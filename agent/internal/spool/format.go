package spool

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// An entry file is
//
//	offset 0      magic "dwsp"
//	offset 4      format version, one byte (formatVersion)
//	offset 5      header length n, uint32 big endian
//	offset 9      header: JSON (fileHeader), n bytes
//	offset 9+n    CRC-32C (Castagnoli) of bytes 0 to 9+n, uint32 big endian
//	offset 13+n   body: header.BodyLen bytes, CRC-32C in header.BodyCRC
//
// and nothing after the body. The file is complete and intact exactly when
// every check holds; anything else is damage.
const (
	magic         = "dwsp"
	formatVersion = 1
	prefixLen     = len(magic) + 1 + 4
	// maxHeaderLen bounds the header a damaged length field can make the
	// reader allocate.
	maxHeaderLen = 64 << 20
	// entrySuffix ends the name of every entry file: 16 hex digits of the
	// ID, then this.
	entrySuffix = ".entry"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileHeader is the JSON header of an entry file.
type fileHeader struct {
	ID      uint64    `json:"id"`
	Kind    string    `json:"kind"`
	Ref     uint64    `json:"ref,omitempty"`
	At      time.Time `json:"at"`
	Keys    []string  `json:"keys,omitempty"`
	BodyLen int64     `json:"body_len"`
	BodyCRC uint32    `json:"body_crc32c"`
	// Gap is set on gap records only.
	Gap *gapHeader `json:"gap,omitempty"`
}

// gapHeader is what a gap record keeps beyond its body: the full record of
// its losses, from which later losses are merged in, and the entries the
// write that made it replaced.
type gapHeader struct {
	// Merge is the key under which later losses merge into this record.
	Merge string `json:"merge"`
	// Replaces lists the ID ranges whose entries this record replaced
	// when it was written. Every entry still on disk with an ID in one of
	// them (other than the record's own) is one a crash left behind after
	// the record was written, and is removed on open.
	Replaces []idRange `json:"replaces,omitempty"`
	// State is the record of the losses, with every key and reference:
	// the body holds a capped copy.
	State *Gap `json:"state"`
}

// idRange is an inclusive range of entry IDs, encoded as [first, last].
type idRange [2]uint64

// errDamaged marks an entry file that is torn, corrupt or of an unknown
// format: it is set aside, never sent.
var errDamaged = errors.New("damaged entry file")

// entryName is the file name of the entry with the given ID.
func entryName(id uint64) string {
	return fmt.Sprintf("%016x%s", id, entrySuffix)
}

// parseEntryName returns the ID an entry file name carries.
func parseEntryName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, entrySuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(hex, 16, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	return id, true
}

// encodePrefix returns the bytes of an entry file before its body: the
// framing and the header. h.BodyLen and h.BodyCRC are set from body.
func encodePrefix(h *fileHeader, body []byte) ([]byte, error) {
	h.BodyLen = int64(len(body))
	h.BodyCRC = crc32.Checksum(body, castagnoli)
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode entry %d header: %w", h.ID, err)
	}
	out := make([]byte, 0, prefixLen+len(hj)+4)
	out = append(out, magic...)
	out = append(out, formatVersion)
	out = binary.BigEndian.AppendUint32(out, uint32(len(hj)))
	out = append(out, hj...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli)), nil
}

// decodeEntry checks a whole entry file held in memory and returns its
// header and body. Errors wrap errDamaged.
func decodeEntry(data []byte) (*fileHeader, []byte, error) {
	h, off, err := decodePrefix(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, err
	}
	body := data[off:]
	if int64(len(body)) != h.BodyLen {
		return nil, nil, fmt.Errorf("%w: body is %d bytes, header says %d (torn write)", errDamaged, len(body), h.BodyLen)
	}
	if c := crc32.Checksum(body, castagnoli); c != h.BodyCRC {
		return nil, nil, fmt.Errorf("%w: body checksum %08x, header says %08x", errDamaged, c, h.BodyCRC)
	}
	return h, body, nil
}

// checkEntryFile reads the entry file at path through, checking its
// framing and both checksums without holding its body, and returns its
// header and size. Damage is reported as an error wrapping errDamaged;
// other errors are failures to read.
func checkEntryFile(path string) (*fileHeader, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := fi.Size()
	h, off, err := decodePrefix(f, size)
	if err != nil {
		return nil, 0, err
	}
	if size-off != h.BodyLen {
		return nil, 0, fmt.Errorf("%w: body is %d bytes, header says %d (torn write)", errDamaged, size-off, h.BodyLen)
	}
	crc := crc32.New(castagnoli)
	n, err := io.Copy(crc, f)
	if err != nil {
		return nil, 0, err
	}
	if n != h.BodyLen {
		return nil, 0, fmt.Errorf("%w: body is %d bytes, header says %d (torn write)", errDamaged, n, h.BodyLen)
	}
	if c := crc.Sum32(); c != h.BodyCRC {
		return nil, 0, fmt.Errorf("%w: body checksum %08x, header says %08x", errDamaged, c, h.BodyCRC)
	}
	return h, size, nil
}

// decodePrefix reads and checks the framing and header of an entry file of
// the given size from r, and returns the header and the body's offset.
func decodePrefix(r io.Reader, size int64) (*fileHeader, int64, error) {
	var pre [prefixLen]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, fmt.Errorf("%w: %d bytes, shorter than the header (torn write)", errDamaged, size)
		}
		return nil, 0, err
	}
	if string(pre[:len(magic)]) != magic {
		return nil, 0, fmt.Errorf("%w: not a spool entry (magic %q)", errDamaged, pre[:len(magic)])
	}
	if v := pre[len(magic)]; v != formatVersion {
		return nil, 0, fmt.Errorf("%w: format version %d, this agent reads version %d", errDamaged, v, formatVersion)
	}
	n := int64(binary.BigEndian.Uint32(pre[len(magic)+1:]))
	if n > maxHeaderLen || int64(prefixLen)+n+4 > size {
		return nil, 0, fmt.Errorf("%w: header of %d bytes does not fit in %d bytes (torn write)", errDamaged, n, size)
	}
	buf := make([]byte, prefixLen+int(n)+4)
	copy(buf, pre[:])
	if _, err := io.ReadFull(r, buf[prefixLen:]); err != nil {
		return nil, 0, err
	}
	want := binary.BigEndian.Uint32(buf[prefixLen+int(n):])
	if c := crc32.Checksum(buf[:prefixLen+int(n)], castagnoli); c != want {
		return nil, 0, fmt.Errorf("%w: header checksum %08x, file says %08x", errDamaged, c, want)
	}
	var h fileHeader
	if err := json.Unmarshal(buf[prefixLen:prefixLen+int(n)], &h); err != nil {
		return nil, 0, fmt.Errorf("%w: header: %v", errDamaged, err)
	}
	if h.ID == 0 || h.Kind == "" || h.BodyLen < 0 || (h.Kind == KindGap) != (h.Gap != nil) ||
		(h.Gap != nil && h.Gap.State == nil) {
		return nil, 0, fmt.Errorf("%w: header is incomplete", errDamaged)
	}
	return &h, int64(len(buf)), nil
}
