// Package client is the Go SDK for applications of a Chorus network: it
// evaluates queries, submits transactions, waits for their commit status and
// follows contract events, through the Gateway service of a peer.
//
// Chorus peers serve Hyperledger Fabric's Gateway API, and this package
// speaks it exactly as Fabric's own Gateway clients do, so it also works
// against Fabric peers. It depends only on the generated protobuf packages
// under proto/fabric, gRPC, the standard library and two small packages of
// this module: internal/zerocopy (protobuf decoding that aliases its input)
// and internal/identity/p256der (the DER form of signatures, low S).
//
// # Connecting
//
// A client profile (see Profile) names the identity, the Gateway peer and
// its TLS root certificate; `chorus up` writes one per organization under
// DIR/profiles/. Connect reads it:
//
//	gw, err := client.Connect("chorus-net/profiles/Org1MSP.json")
//	if err != nil {
//		return err
//	}
//	defer gw.Close()
//
//	assets := gw.Network(gw.DefaultChannel()).Contract("assets")
//
//	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
//	defer cancel()
//	if _, err := assets.Submit(ctx, "CreateAsset", "asset1", "blue", "5", "Tom", "300"); err != nil {
//		return err
//	}
//	asset, err := assets.Evaluate(ctx, "ReadAsset", "asset1")
//
// Applications that dial the peer themselves pass the connection, an
// Identity (NewIdentityFromFiles) and a Signer (NewSignerFromKeyFile) to
// NewGateway; DialOptions gives the options Connect dials with.
//
// # Transactions
//
// Contract.Evaluate runs a function on a peer without changing the ledger.
// Contract.Submit runs the whole flow of a transaction: the Gateway has the
// proposal endorsed, the client signs the prepared transaction, the Gateway
// hands it to ordering, and the client waits for its commit status; Submit
// returns the function's result once the transaction is committed and valid.
// Contract.SubmitAsync returns after ordering accepted the transaction, with
// a Commit to wait on later.
//
// The steps are also available one by one, for transient data, a choice of
// endorsing organizations, or to learn the transaction id first:
//
//	proposal, err := assets.NewProposal("TransferAsset", []string{"asset1", "Ann"},
//		client.WithEndorsingOrganizations("Org1MSP", "Org2MSP"))
//	if err != nil {
//		return err
//	}
//	log.Printf("transaction %s", proposal.TransactionID())
//	tx, err := proposal.Endorse(ctx)
//	if err != nil {
//		return err
//	}
//	commit, err := tx.Submit(ctx)
//	if err != nil {
//		return err
//	}
//	status, err := commit.Status(ctx)
//	if err != nil {
//		return err
//	}
//	if !status.Successful {
//		return fmt.Errorf("transaction %s is invalid: %s", status.TransactionID, status.CodeName)
//	}
//
// # Events
//
// Network.ChaincodeEvents streams a contract's events from committed
// transactions, from the next block by default:
//
//	events, eventsErr, err := gw.Network("mychannel").ChaincodeEvents(ctx, "assets")
//	if err != nil {
//		return err
//	}
//	for ev := range events {
//		fmt.Println(ev.BlockNumber, ev.EventName, string(ev.Payload))
//	}
//	return eventsErr() // why the stream ended, once events is closed
//
// # Errors
//
// Failed calls return typed errors, which errors.As finds:
//
//   - *GatewayError: the gRPC code, the message and the per-node
//     ErrorDetail values the Gateway attached (which peer refused, and why).
//     Evaluate and ChaincodeEvents return it as is.
//   - *EndorseError, *SubmitError, *CommitStatusError: the step of a
//     transaction that failed, with its TransactionID; each wraps the
//     GatewayError.
//   - *CommitError: the transaction was committed but is invalid, with its
//     validation code (for example 11, MVCC_READ_CONFLICT: endorse and submit
//     it again).
//
// status.Code(err) gives the gRPC code through any of them, and a call cut
// short by its context matches context.Canceled or context.DeadlineExceeded.
//
// # What is signed
//
// Everything is built as Fabric's clients build it: a 24-byte random nonce,
// the transaction id hex(SHA-256(nonce ‖ creator)) where the creator is the
// deterministic msp.SerializedIdentity of the MSP id and the certificate's
// PEM bytes as given, and signatures over the proposal bytes, the prepared
// transaction's payload exactly as the Gateway returned it (never
// re-marshalled), and the commit-status and events requests. ECDSA P-256
// signatures are DER over SHA-256 with a low S; Ed25519 keys sign the
// message itself.
//
// The client cannot verify endorsements; it checks only that the prepared
// transaction it is asked to sign carries its own transaction id and
// channel. TLS authentication of the Gateway peer is what protects it from
// signing a transaction it did not propose, which is why profiles require a
// TLS root certificate.
//
// # Concurrency
//
// Gateway, Network, Contract, Proposal, Transaction and Commit are safe for
// concurrent use. The package starts a goroutine only for a ChaincodeEvents
// stream; it ends when the stream's context ends or the stream fails.
package client
