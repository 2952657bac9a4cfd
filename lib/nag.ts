import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag finding on `scope` and everything below it. cdk-nag 3 looks for
 * acknowledgements on the flagged resource and its ancestors, so pass the narrowest construct.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * The id of an `AwsSolutions-IAM5` finding for a wildcard resource, as cdk-nag spells it: the
 * resolved ARN with `{"Fn::GetAtt":[X,"Arn"]}` written `<X.Arn>`, `{"Ref":X}` written `<X>` and
 * `Fn::Join` flattened. Computing it keeps each acknowledgement tied to the exact ARN it covers.
 */
export function wildcardResourceFinding(scope: IConstruct, arn: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(arn))}]`;
}

function flatten(node: unknown): string {
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (node !== null && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${flatten(getAtt[0])}.${flatten(getAtt[1])}>`;
    if ('Ref' in record) return `<${flatten(record.Ref)}>`;
    if ('Fn::Sub' in record) return flatten(record['Fn::Sub']);
  }
  return JSON.stringify(node);
}
