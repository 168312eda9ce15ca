# node-gyp-build's source fallback runs `node-gyp rebuild`, which reads this file. It compiles
# nothing itself: its one action runs the engine's only build description (CMakeLists.txt) through
# cmake-js, exactly as `npm run build:native` does (docs/ARCHITECTURE.md, "Build").
{
  "targets": [
    {
      "target_name": "vlac",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_build",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["build/addon/Release/vlac.node"],
          "action": ["node", "scripts/build-native.mjs"]
        }
      ]
    }
  ]
}
