// The production gateway (the image's default command): the gateway, with
// the adapters and the saga in process unless FACET_ADAPTERS=external. The
// CRM and MES are the ones CRM_URL and MES_URL (or the config) name; this
// entry never imports the simulators (test/unit/layering.test.ts checks it).

import { runGatewayProcess } from './gateway-process.ts';

runGatewayProcess();
