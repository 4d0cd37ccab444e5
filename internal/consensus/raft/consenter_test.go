package raft_test

import (
	"github.com/chorusledger/chorus/internal/consensus/raft"
	"github.com/chorusledger/chorus/internal/orderer"
)

// The production Raft chain is an orderer.Consenter.
var _ orderer.Consenter = (*raft.Chain)(nil)
