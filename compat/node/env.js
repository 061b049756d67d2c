'use strict';
// What ../node_test.go hands the tests: make local's API, the functions
// under the Lambda RIE, the apps and the sample files.
const path = require('node:path');

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: these tests run through compat's go test (node_test.go)`);
  return v;
}

module.exports = {
  base: env('WXMEDIA_API'),
  apps: [env('WXMEDIA_DEFAULT_APP'), env('WXMEDIA_SECOND_APP')],
  rie: { upload: env('WXMEDIA_RIE_UPLOAD'), get: env('WXMEDIA_RIE_GET'), uploadimg: env('WXMEDIA_RIE_UPLOADIMG') },
  file: (name) => path.join(env('WXMEDIA_FILES'), name),
  // The SDKs' own AppSecret setting: wxmedia neither checks nor needs it.
  sdkSecret: 'not-the-appsecret',
};
