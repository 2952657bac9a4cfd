import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseConfig } from '../lib/config';
import { QualysLakeStack } from '../lib/qualys-lake-stack';

const app = new App();
// Another name (-c stackName=QualysLakeEmea) deploys a second, independent stack beside the first.
const { stackName } = parseConfig((key) => app.node.tryGetContext(key));
new QualysLakeStack(app, stackName, {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// cdk-nag 3 runs as a policy validation plugin: unacknowledged findings fail `cdk synth`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
