'use strict';
// The cloud call's AWS form: the AWS SDK for JavaScript's Lambda client
// invokes the built upload, get and uploadimg bootstraps under the Lambda
// RIE, its event carrying the file as a Node Buffer, as wx-server-sdk
// users write openapi.customerServiceMessage.uploadTempMedia's.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
const { rie, file } = require('./env');

// Lambda's limit on a synchronous invocation's event, 6 MB: the RIE cuts
// an event there (plus 100 bytes); Lambda refuses a larger one itself.
const LIMIT = 6 * 1024 * 1024;

const clients = {};
// invoke answers the function's answer, or {thrown: errorType, errCode, errMsg}.
async function invoke(fn, event) {
  clients[fn] ??= new LambdaClient({ endpoint: `http://${rie[fn]}`, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const out = await clients[fn].send(new InvokeCommand({ FunctionName: 'function', Payload: Buffer.from(JSON.stringify(event)) }));
  const body = JSON.parse(Buffer.from(out.Payload).toString());
  if (out.FunctionError || body.errorType) {
    return { thrown: body.errorType, ...JSON.parse(body.errorMessage) };
  }
  return body;
}

const jpeg = fs.readFileSync(file('photo.jpg'));
const png = fs.readFileSync(file('banner.png'));

test('upload a Buffer', async () => {
  const r = await invoke('upload', { type: 'image', media: { contentType: 'image/jpeg', value: jpeg } });
  assert.equal(r.errCode, 0, JSON.stringify(r));
  assert.equal(r.errMsg, 'openapi.customerServiceMessage.uploadTempMedia:ok');
  assert.equal(r.type, 'image');
  assert.ok(r.mediaId && r.createdAt > 0, JSON.stringify(r));
});

test('a thumb answers thumbMediaId, as the conversion of thumb_media_id', async () => {
  const r = await invoke('upload', { type: 'thumb', media: { contentType: 'image/jpeg', value: jpeg } });
  assert.ok(r.thumbMediaId, JSON.stringify(r));
  assert.equal(r.mediaId, undefined);
});

test('api names the cloud call in errMsg', async () => {
  const r = await invoke('upload', { api: 'officialAccount.media.upload', type: 'image', media: { contentType: 'image/jpeg', value: jpeg } });
  assert.equal(r.errMsg, 'openapi.officialAccount.media.upload:ok');
  const img = await invoke('uploadimg', { api: 'officialAccount.media.uploadImg', media: { contentType: 'image/png', value: png } });
  assert.equal(img.errMsg, 'openapi.officialAccount.media.uploadImg:ok');
  assert.match(img.url, /^https?:\/\//);
});

test('get answers {contentType, buffer}, media_id in snake_case too', async () => {
  const { mediaId } = await invoke('upload', { type: 'image', media: { contentType: 'image/jpeg', value: jpeg } });
  for (const event of [{ mediaId }, { media_id: mediaId }]) {
    const r = await invoke('get', event);
    assert.equal(r.errMsg, 'openapi.customerServiceMessage.getTempMedia:ok', JSON.stringify(r));
    assert.equal(r.contentType, 'image/jpeg');
    assert.deepEqual(Buffer.from(r.buffer, 'base64'), jpeg);
  }
});

test('get of a video answers its videoUrl', async () => {
  const video = fs.readFileSync(file('clip.mp4'));
  const { mediaId } = await invoke('upload', { type: 'video', media: { content_type: 'video/mp4', value: video } });
  const r = await invoke('get', { mediaId });
  assert.match(r.videoUrl, /^https?:\/\//, JSON.stringify(r));
  assert.deepEqual(Buffer.from(await (await fetch(r.videoUrl)).arrayBuffer()), video);
});

test('an unknown media_id is thrown with errCode 40007', async () => {
  const r = await invoke('get', { mediaId: 'no-such-media' });
  assert.equal(r.thrown, 'WeChatError');
  assert.equal(r.errCode, 40007);
  assert.match(r.errMsg, /^openapi\.customerServiceMessage\.getTempMedia:fail /);
});

// The file that fits one invocation depends on its encoding: measured here
// on random bytes behind a JPEG's magic, at the limit and just past it.
test('the invoke limit per encoding', async (t) => {
  const data = crypto.randomBytes(5 * 1024 * 1024);
  data.set([0xff, 0xd8, 0xff, 0xe0]);
  const event = (value) => ({ type: 'image', media: { contentType: 'image/jpeg', value } });
  const size = (value) => Buffer.byteLength(JSON.stringify(event(value)));

  // A Buffer: each byte costs its 1 to 3 digits and a comma.
  let n = 0;
  for (let len = size(Buffer.alloc(0)) - 1; n < data.length && len + String(data[n]).length + 1 <= LIMIT; n++) {
    len += String(data[n]).length + 1;
  }
  const asBuffer = data.subarray(0, n);
  assert.ok(size(asBuffer) <= LIMIT && size(data.subarray(0, n + 1)) > LIMIT);
  // base64: 4 bytes per 3.
  const m = Math.floor((LIMIT - size('')) / 4) * 3;
  const asBase64 = data.subarray(0, m);
  t.diagnostic(`Buffer: up to ${n} bytes of file (${(size(asBuffer) / n).toFixed(3)} event bytes a byte); base64: up to ${m} bytes`);

  for (const [name, fits, over] of [
    ['Buffer', asBuffer, data.subarray(0, n + 200)],
    ['base64', asBase64.toString('base64'), data.subarray(0, m + 300).toString('base64')],
  ]) {
    const ok = await invoke('upload', event(fits));
    assert.equal(ok.errCode, 0, `${name} at the limit: ${JSON.stringify(ok)}`);
    const cut = await invoke('upload', event(over));
    assert.equal(cut.errCode, 40006, `${name} past the limit: ${JSON.stringify(cut)}`);
    assert.match(cut.errMsg, /invoke limit/);
  }
});
