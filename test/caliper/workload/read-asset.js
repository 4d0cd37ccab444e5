'use strict';

const { WorkloadModuleBase } = require('@hyperledger/caliper-core');
const { runPrefix, assetId, invoker } = require('./ids');

/**
 * Evaluates ReadAsset(id) for assets the create round made: args.assetsPerWorker
 * assets by each of args.creatorWorkers workers (the create round's txNumber
 * divided by its workers, as Caliper divides it). Every worker walks all of
 * them, starting at a different place, and checks that the answer is the
 * asset it asked for.
 */
class ReadAssetWorkload extends WorkloadModuleBase {
    constructor() {
        super();
        this.reads = 0;
        this.wrong = 0;
    }

    async initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter, sutContext) {
        await super.initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter, sutContext);
        const args = roundArguments || {};
        this.contractId = args.contractId || 'assets';
        this.prefix = runPrefix(args);
        this.invoker = invoker(args, workerIndex);
        this.perWorker = args.assetsPerWorker;
        this.creators = args.creatorWorkers || totalWorkers;
        if (!Number.isInteger(this.perWorker) || this.perWorker < 1) {
            throw new Error('read-asset: the round argument assetsPerWorker must be a positive integer');
        }
        this.total = this.perWorker * this.creators;
        this.start = Math.floor(workerIndex * this.total / totalWorkers);
    }

    async submitTransaction() {
        const k = (this.start + this.reads++) % this.total;
        const id = assetId(this.prefix, k % this.creators, Math.floor(k / this.creators));
        const request = {
            contractId: this.contractId,
            contractFunction: 'ReadAsset',
            contractArguments: [id],
            readOnly: true,
            ...this.invoker,
        };
        const status = await this.sutAdapter.sendRequests(request);
        if (status.GetStatus() === 'success') {
            let got;
            try {
                got = JSON.parse(Buffer.from(status.GetResult()).toString()).ID;
            } catch (err) {
                got = undefined;
            }
            if (got !== id) {
                this.wrong++;
            }
        }
    }

    async cleanupWorkloadModule() {
        if (this.wrong > 0) {
            // A read that succeeded but returned another asset (or no JSON)
            // is a correctness bug, not a performance one: say so loudly.
            console.error(`read-asset: worker ${this.workerIndex}: ${this.wrong} of ${this.reads} reads returned the wrong asset`);
        }
    }
}

module.exports.createWorkloadModule = () => new ReadAssetWorkload();
