package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/chorusledger/chorus/sdk/client"
)

// The examples need a running network (`chorus up`), so they are compiled
// but not run.

func Example() {
	gw, err := client.Connect("chorus-net/profiles/Org1MSP.json")
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()
	assets := gw.Network(gw.DefaultChannel()).Contract("assets")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := assets.Submit(ctx, "CreateAsset", "asset1", "blue", "5", "Tom", "300"); err != nil {
		var commitErr *client.CommitError
		if errors.As(err, &commitErr) && commitErr.CodeName == "MVCC_READ_CONFLICT" {
			log.Fatalf("conflict, try again: %v", err)
		}
		log.Fatal(err)
	}
	asset, err := assets.Evaluate(ctx, "ReadAsset", "asset1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(asset))
}

func ExampleContract_NewProposal() {
	gw, err := client.Connect("chorus-net/profiles/Org1MSP.json")
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()
	assets := gw.Network("mychannel").Contract("assets")
	ctx := context.Background()

	proposal, err := assets.NewProposal("TransferAsset", []string{"asset1", "Ann"},
		client.WithEndorsingOrganizations("Org1MSP", "Org2MSP"))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("submitting transaction %s", proposal.TransactionID())
	tx, err := proposal.Endorse(ctx)
	if err != nil {
		log.Fatal(err)
	}
	commit, err := tx.Submit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	status, err := commit.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("result %s, %s in block %d\n", tx.Result(), status.CodeName, status.BlockNumber)
}

func ExampleNetwork_ChaincodeEvents() {
	gw, err := client.Connect("chorus-net/profiles/Org1MSP.json")
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	events, eventsErr, err := gw.Network("mychannel").ChaincodeEvents(ctx, "assets", client.WithStartBlock(0))
	if err != nil {
		log.Fatal(err)
	}
	for ev := range events {
		fmt.Printf("block %d tx %s: %s %s\n", ev.BlockNumber, ev.TransactionID, ev.EventName, ev.Payload)
	}
	if err := eventsErr(); !errors.Is(err, context.DeadlineExceeded) {
		log.Fatal(err)
	}
}

func ExampleNewGateway() {
	id, err := client.NewIdentityFromFiles("Org1MSP", "msp/signcerts/cert.pem")
	if err != nil {
		log.Fatal(err)
	}
	signer, err := client.NewSignerFromKeyFile("msp/keystore/key.pem")
	if err != nil {
		log.Fatal(err)
	}
	caPEM, err := os.ReadFile("tls/ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient("peer0.org1.example.com:7401", append(client.DialOptions(), grpc.WithTransportCredentials(creds))...)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close() // the caller owns the connection

	gw, err := client.NewGateway(conn, id, signer, client.WithEvaluateTimeout(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	result, err := gw.Network("mychannel").Contract("assets").Evaluate(context.Background(), "GetAllAssets")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(result))
}
