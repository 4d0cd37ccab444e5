package channelconfig

import (
	"errors"
	"fmt"
	"time"

	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
)

// BlockSignatureVerifier returns a ledger.SignatureVerifier accepting block
// signatures made by orderers of the channel b configures.
func BlockSignatureVerifier(b *Bundle) ledger.SignatureVerifier {
	return func(creator, msg, sig []byte) error {
		id, err := b.Manager().DeserializeIdentity(creator)
		if err != nil {
			return err
		}
		if !id.HasRole(identity.RoleOrderer) {
			return fmt.Errorf("block signed by %s, which is not an orderer", id)
		}
		return id.Verify(msg, sig)
	}
}

// LedgerBundle builds the configuration bundle of a stored channel from
// its latest configuration block, as the last block's signed metadata
// names it, with opts.
func LedgerBundle(l *ledger.Ledger, opts BundleOptions) (*Bundle, error) {
	h := l.Height()
	if h == 0 {
		return nil, fmt.Errorf("channelconfig: channel %s has no blocks", l.Channel())
	}
	last, err := l.Block(h - 1)
	if err != nil {
		return nil, err
	}
	var index uint64
	if h > 1 {
		md, err := ledger.OrdererMetadata(last)
		if err != nil {
			return nil, fmt.Errorf("channel %s, block %d: %w", l.Channel(), h-1, err)
		}
		index = md.GetLastConfig().GetIndex()
	}
	cfgBlock, err := l.Block(index)
	if err != nil {
		return nil, err
	}
	cfg, err := ConfigFromBlock(cfgBlock)
	if err != nil {
		return nil, fmt.Errorf("channel %s, config block %d: %w", l.Channel(), index, err)
	}
	return NewBundle(cfg, opts)
}

// VerifyPath opens the stopped node database in dir read-only and verifies
// every channel (or only channel) with ledger.Verify, checking orderer
// signatures against each channel's own configuration. It returns a
// report per channel and the failures joined.
func VerifyPath(dir, channel string) ([]*ledger.Report, error) {
	db, err := kv.Open(dir, kv.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("channelconfig: verify %s: %w", dir, err)
	}
	defer db.Close()
	channels := []string{channel}
	if channel == "" {
		if channels, err = ledger.Channels(db); err != nil {
			return nil, err
		}
		if len(channels) == 0 {
			return nil, fmt.Errorf("channelconfig: verify %s: no channel ledger found", dir)
		}
	}
	var reports []*ledger.Report
	var errs []error
	for _, ch := range channels {
		l, err := ledger.Open(db, ch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep, err := VerifyLedger(l, time.Now)
		if rep != nil {
			reports = append(reports, rep)
		}
		if err != nil {
			errs = append(errs, err)
		}
		l.Close()
	}
	return reports, errors.Join(errs...)
}

// VerifyLedger verifies one open ledger with ledger.Verify over a snapshot,
// checking orderer signatures against the channel's own configuration.
// When that configuration cannot be read, the rest is still checked, the
// report counts no signatures, and the error says why.
func VerifyLedger(l *ledger.Ledger, now func() time.Time) (*ledger.Report, error) {
	opts := ledger.VerifyOptions{}
	var bundleErr error
	if b, err := LedgerBundle(l, BundleOptions{Now: now}); err != nil {
		bundleErr = fmt.Errorf("channel %s: reading its configuration to check signatures: %w", l.Channel(), err)
	} else {
		opts.Verifier = BlockSignatureVerifier(b)
	}
	rep, err := l.Verify(opts)
	return rep, errors.Join(bundleErr, err)
}
