package identity

import (
	"fmt"
	"slices"
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
