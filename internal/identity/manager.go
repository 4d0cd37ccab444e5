package identity

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Manager holds the MSPs of a channel, keyed by MSP id, and dispatches each
// identity to the MSP its serialized form names. It is immutable and safe
// for concurrent use; a configuration update builds a new Manager.
type Manager struct {
	msps map[string]*MSP
	ids  []string // sorted
}

// NewManager builds a Manager of msps; their ids must be distinct.
func NewManager(msps ...*MSP) (*Manager, error) {
	mg := &Manager{msps: make(map[string]*MSP, len(msps))}
	for _, m := range msps {
		if _, dup := mg.msps[m.ID()]; dup {
			return nil, fmt.Errorf("identity: MSP %s given twice", m.ID())
		}
		mg.msps[m.ID()] = m
		mg.ids = append(mg.ids, m.ID())
	}
	slices.Sort(mg.ids)
	return mg, nil
}

// MSP returns the MSP of the given id.
func (mg *Manager) MSP(id string) (*MSP, bool) {
	m, ok := mg.msps[id]
	return m, ok
}

// MSPIDs returns the ids of the MSPs, sorted.
func (mg *Manager) MSPIDs() []string { return slices.Clone(mg.ids) }

// DeserializeIdentity reads untrusted serialized identity bytes and has the
// MSP they name validate them; see MSP.DeserializeIdentity. An MSP id the
// Manager does not hold gives an error matching ErrUnknownMSP.
func (mg *Manager) DeserializeIdentity(serialized []byte) (*Identity, error) {
	if id, ok := serializedMSPID(serialized); ok {
		if m, found := mg.msps[string(id)]; found { // no copy of id for the look-up
			return m.DeserializeIdentity(serialized)
		}
	}
	sid, err := unmarshalSerialized(serialized)
	if err != nil {
		return nil, err
	}
	m, err := mg.lookup(sid.GetMspid())
	if err != nil {
		return nil, err
	}
	return m.DeserializeIdentity(serialized)
}

// serializedMSPID reads the MSP id (field 1, the last one if repeated, as
// proto.Unmarshal does) of a msp.SerializedIdentity without decoding the
// rest. It answers false when the bytes are not a well-formed message with
// an MSP id; the caller then decodes them in full for the error. An id
// read here only chooses the MSP: that MSP decodes and checks the bytes
// again unless it validated these very bytes before.
func serializedMSPID(serialized []byte) ([]byte, bool) {
	var mspID []byte
	for b := serialized; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber { // ConsumeTag checks only the minimum
			return nil, false
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !utf8.Valid(v) { // proto3 checks every occurrence
				return nil, false
			}
			mspID, b = v, b[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return nil, false
		}
		b = b[n:]
	}
	if len(mspID) == 0 {
		return nil, false
	}
	return mspID, true
}

// Validate re-checks id with the MSP of its MSP id; see MSP.Validate.
func (mg *Manager) Validate(id *Identity) error {
	m, err := mg.lookup(id.MSPID())
	if err != nil {
		return err
	}
	return m.Validate(id)
}

func (mg *Manager) lookup(mspID string) (*MSP, error) {
	m, ok := mg.msps[mspID]
	if !ok {
		return nil, newKindError(ErrUnknownMSP, nil, fmt.Sprintf("identity: unknown MSP %s", printable(mspID)))
	}
	return m, nil
}
