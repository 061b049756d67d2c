'use strict';
// Two unmodified Node WeChat SDKs against make local, each with its stock
// token handling (it fetches its own token from /cgi-bin/token) and only
// its base URL changed, through its own public setting: co-wechat-api's
// prefix, wechat-api's endpoint (its setEndpoint forces https).
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const CoAPI = require('co-wechat-api');
const WechatAPI = require('wechat-api');
const { base, apps, file, sdkSecret } = require('./env');

// Each SDK as a promise API: upload(path, type), uploadImage(path),
// getMedia(id) resolving to what the SDK hands back, or rejecting with its
// error, whose .result is what it handed back with it.
const sdks = {
  'co-wechat-api': (appid) => {
    const api = new CoAPI(appid, sdkSecret);
    api.prefix = base + '/cgi-bin/';
    return {
      upload: (p, type) => api.uploadMedia(p, type),
      uploadImage: (p) => api.uploadImage(p),
      getMedia: (id) => api.getMedia(id),
    };
  },
  'wechat-api': (appid) => {
    const api = new WechatAPI(appid, sdkSecret);
    api.endpoint = base;
    const call = (method, ...args) => new Promise((resolve, reject) => {
      api[method](...args, (err, result) => {
        if (err) {
          err.result = result;
          reject(err);
        } else {
          resolve(result);
        }
      });
    });
    return {
      upload: (p, type) => call('uploadMedia', p, type),
      uploadImage: (p) => call('uploadImage', p),
      getMedia: (id) => call('getMedia', id),
    };
  },
};

// The errcode an SDK's error carries: its code, or, for wechat-api's
// getMedia, which sets none, the answer it hands back with the error.
const errcode = (err) => err.code ?? err.result?.errcode;

async function refused(promise, code) {
  const err = await promise.then((v) => assert.fail(`answered ${JSON.stringify(v)}, want errcode ${code}`), (e) => e);
  assert.equal(err.name, 'WeChatAPIError', `error ${err.name}: ${err.message}, want the SDK's WeChatAPIError`);
  assert.equal(errcode(err), code, `error ${err.message}: want errcode ${code}`);
}

for (const [name, sdk] of Object.entries(sdks)) {
  describe(name, () => {
    const api = sdk(apps[0]);
    const second = sdk(apps[1]);

    for (const [type, f] of [['image', 'photo.jpg'], ['image', 'banner.png'], ['voice', 'hello.mp3'], ['video', 'clip.mp4'], ['thumb', 'thumb.jpg']]) {
      test(`upload ${type} ${f}`, async () => {
        const r = await api.upload(file(f), type);
        assert.equal(r.type, type);
        assert.match(type === 'thumb' ? r.thumb_media_id : r.media_id, /^\S+$/, `answer ${JSON.stringify(r)}`);
        assert.ok(r.created_at > 0);
      });
    }

    test('upload a non-ASCII file name', async () => {
      const r = await api.upload(file('图片 (1).jpg'), 'image');
      assert.ok(r.media_id, JSON.stringify(r));
    });

    test('a text file named .jpg is 40005', () => refused(api.upload(file('notes.jpg'), 'image'), 40005));

    test('uploadimg answers a url', async () => {
      const r = await api.uploadImage(file('banner.png'));
      assert.match(r.url, /^https?:\/\//);
    });

    test('get answers the bytes', async () => {
      const { media_id: id } = await api.upload(file('photo.jpg'), 'image');
      const got = await api.getMedia(id);
      assert.ok(Buffer.isBuffer(got), `got ${typeof got}, want a Buffer`);
      assert.deepEqual(got, fs.readFileSync(file('photo.jpg')));
    });

    test('get of a video answers its video_url', async () => {
      const { media_id: id } = await api.upload(file('clip.mp4'), 'video');
      const got = await api.getMedia(id);
      assert.match(got.video_url, /^https?:\/\//, `got ${got}`);
      const bytes = Buffer.from(await (await fetch(got.video_url)).arrayBuffer());
      assert.deepEqual(bytes, fs.readFileSync(file('clip.mp4')));
    });

    test('an unknown media_id is 40007', () => refused(api.getMedia('no-such-media'), 40007));

    test('a second appid through the same base URL is that app', async () => {
      const { media_id: id } = await second.upload(file('photo.jpg'), 'image');
      assert.deepEqual(await second.getMedia(id), fs.readFileSync(file('photo.jpg')));
      await refused(api.getMedia(id), 40007); // the default app's token does not reach it
    });
  });
}
