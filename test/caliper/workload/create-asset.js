'use strict';

const { WorkloadModuleBase } = require('@hyperledger/caliper-core');
const { runPrefix, assetId, invoker } = require('./ids');

/**
 * Submits CreateAsset(id, color, size, owner, value) with an id no other
 * transaction of the run uses. The owner is padded so that the asset as the
 * contract stores it (its JSON) is about args.assetBytes bytes.
 */
class CreateAssetWorkload extends WorkloadModuleBase {
    constructor() {
        super();
        this.created = 0;
    }

    async initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter, sutContext) {
        await super.initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter, sutContext);
        const args = roundArguments || {};
        this.contractId = args.contractId || 'assets';
        this.prefix = runPrefix(args);
        this.invoker = invoker(args, workerIndex);
        this.assetBytes = args.assetBytes || 100;
        this.colors = ['blue', 'red', 'green', 'yellow', 'black', 'white'];
    }

    /**
     * The owner for asset id: long enough that the stored JSON,
     * {"AppraisedValue":V,"Color":"C","ID":"I","Owner":"O","Size":S},
     * has about this.assetBytes bytes.
     * @param {string} id the asset id
     * @param {string} color its color
     * @param {string} size its size, decimal
     * @param {string} value its appraised value, decimal
     * @returns {string} the owner
     */
    owner(id, color, size, value) {
        const fixed = `{"AppraisedValue":${value},"Color":"${color}","ID":"${id}","Owner":"","Size":${size}}`.length;
        const name = `owner-w${this.workerIndex}-`;
        const pad = Math.max(0, this.assetBytes - fixed - name.length);
        return name + 'x'.repeat(pad);
    }

    async submitTransaction() {
        const n = this.created++;
        const id = assetId(this.prefix, this.workerIndex, n);
        const color = this.colors[n % this.colors.length];
        const size = String(1 + (n % 20));
        const value = String(100 + n);
        const request = {
            contractId: this.contractId,
            contractFunction: 'CreateAsset',
            contractArguments: [id, color, size, this.owner(id, color, size, value), value],
            readOnly: false,
            ...this.invoker,
        };
        await this.sutAdapter.sendRequests(request);
    }
}

module.exports.createWorkloadModule = () => new CreateAssetWorkload();
