package tcp

import "encoding/binary"

// Option kinds (IANA "TCP Option Kind Numbers").
const (
	optEnd           = 0 // RFC 9293 §3.2
	optNOP           = 1 // RFC 9293 §3.2
	optMSS           = 2 // RFC 9293 §3.7.1
	optWindowScale   = 3 // RFC 7323 §2
	optSACKPermitted = 4 // RFC 2018 §2
	optSACK          = 5 // RFC 2018 §3
	optTimestamps    = 8 // RFC 7323 §3
)

// MaxSACKBlocks is the most SACK blocks an option can carry: 2+8n bytes must
// fit the 40 bytes of option space (RFC 2018 §3).
const MaxSACKBlocks = 4

// MaxWindowScale is the largest shift RFC 7323 §2.3 allows; larger values
// received are clamped to it.
const MaxWindowScale = 14

// maxOptionsLen is the room for options: data offset is at most 15 words.
const maxOptionsLen = 40

// SACKBlock is one block of a SACK option: the peer holds [Left, Right).
type SACKBlock struct {
	Left, Right Seq
}

// Options is the parsed form of the option list of one segment. A field is
// meaningful only when its Has flag (or, for SACK blocks, NumSACK) says so.
// Options is a plain value with a fixed-size SACK array so that parsing
// allocates nothing.
type Options struct {
	HasMSS         bool
	HasWindowScale bool
	SACKPermitted  bool
	HasTimestamps  bool
	NumSACK        uint8 // number of valid entries in SACK
	WindowScale    uint8 // shift count as received (not clamped)
	MSS            uint16
	// Malformed is the first problem met while parsing (an option length
	// below two, one running past the header, or a known option with the
	// wrong length), or zero. The segment is still valid: parsing stopped
	// at the bad option, or skipped it, as Linux does.
	Malformed    ParseError
	TSVal, TSEcr uint32
	SACK         [MaxSACKBlocks]SACKBlock
}

// SACKBlocks returns the valid SACK blocks.
func (o *Options) SACKBlocks() []SACKBlock { return o.SACK[:min(int(o.NumSACK), MaxSACKBlocks)] }

// parseOptions reads the option list b into o, the way Linux's
// tcp_parse_options does: a malformed option never costs the segment.
// Unknown options are skipped using their length byte (RFC 9293 §3.1); an
// option whose length byte is missing, below two or runs past the header
// ends parsing there (what came before it is kept); a known option with a
// length other than the one defined for it is ignored and parsing goes on.
// RFC 9293 §3.1 only asks that an illegal length be survived; dropping the
// segment, as this code did, made a SYN from a broken middlebox go
// unanswered where Linux answers it. The first problem found is recorded
// in o.Malformed, so callers can count it.
func parseOptions(b []byte, o *Options) {
	bad := func(e ParseError) {
		if o.Malformed == 0 {
			o.Malformed = e
		}
	}
	for i := 0; i < len(b); {
		kind := b[i]
		switch kind {
		case optEnd:
			return
		case optNOP:
			i++
			continue
		}
		if i+1 >= len(b) {
			bad(ErrOptionTruncated)
			return
		}
		l := int(b[i+1])
		if l < 2 {
			bad(ErrOptionLength)
			return
		}
		if i+l > len(b) {
			bad(ErrOptionTruncated)
			return
		}
		v := b[i+2 : i+l]
		switch kind {
		case optMSS:
			if l != 4 {
				bad(ErrMSSOption)
				break
			}
			o.HasMSS = true
			o.MSS = binary.BigEndian.Uint16(v)
		case optWindowScale:
			if l != 3 {
				bad(ErrWindowScaleOption)
				break
			}
			o.HasWindowScale = true
			o.WindowScale = v[0]
		case optSACKPermitted:
			if l != 2 {
				bad(ErrSACKPermittedOption)
				break
			}
			o.SACKPermitted = true
		case optSACK:
			n := (l - 2) / 8
			if (l-2)%8 != 0 || n == 0 || n > MaxSACKBlocks {
				bad(ErrSACKOption)
				break
			}
			for j := 0; j < n; j++ {
				o.SACK[j] = SACKBlock{
					Left:  Seq(binary.BigEndian.Uint32(v[8*j:])),
					Right: Seq(binary.BigEndian.Uint32(v[8*j+4:])),
				}
			}
			o.NumSACK = uint8(n)
		case optTimestamps:
			if l != 10 {
				bad(ErrTimestampsOption)
				break
			}
			o.HasTimestamps = true
			o.TSVal = binary.BigEndian.Uint32(v)
			o.TSEcr = binary.BigEndian.Uint32(v[4:])
		}
		i += l
	}
}

// Len returns the number of bytes the options take on the wire, padded to
// a multiple of four. Options that do not fit the 40-byte limit make Len
// exceed 40; Emit rejects them.
func (o *Options) Len() int {
	n := 0
	if o.HasMSS {
		n += 4
	}
	if o.HasWindowScale {
		n += 4 // NOP + 3
	}
	if o.SACKPermitted {
		n += 4 // NOP NOP + 2
	}
	if o.HasTimestamps {
		n += 12 // NOP NOP + 10
	}
	if o.NumSACK > 0 {
		n += 4 + 8*int(o.NumSACK) // NOP NOP + 2 + 8n
	}
	return n
}

// emit writes the options into b, which must be at least o.Len() bytes.
// The layout pads with NOPs so that the four-byte-aligned forms recommended
// by RFC 7323 Appendix A and RFC 2018 §3 are used; no End option is needed
// because the length is always a multiple of four.
func (o *Options) emit(b []byte) int {
	i := 0
	if o.HasMSS {
		b[i], b[i+1] = optMSS, 4
		binary.BigEndian.PutUint16(b[i+2:], o.MSS)
		i += 4
	}
	if o.HasWindowScale {
		b[i], b[i+1], b[i+2], b[i+3] = optNOP, optWindowScale, 3, o.WindowScale
		i += 4
	}
	if o.SACKPermitted {
		b[i], b[i+1], b[i+2], b[i+3] = optNOP, optNOP, optSACKPermitted, 2
		i += 4
	}
	if o.HasTimestamps {
		b[i], b[i+1], b[i+2], b[i+3] = optNOP, optNOP, optTimestamps, 10
		binary.BigEndian.PutUint32(b[i+4:], o.TSVal)
		binary.BigEndian.PutUint32(b[i+8:], o.TSEcr)
		i += 12
	}
	if n := int(o.NumSACK); n > 0 {
		b[i], b[i+1], b[i+2], b[i+3] = optNOP, optNOP, optSACK, byte(2+8*n)
		i += 4
		for j := 0; j < n; j++ {
			binary.BigEndian.PutUint32(b[i:], uint32(o.SACK[j].Left))
			binary.BigEndian.PutUint32(b[i+4:], uint32(o.SACK[j].Right))
			i += 8
		}
	}
	return i
}
