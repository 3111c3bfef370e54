#!/usr/bin/env bash
# Resolves a server's classpath from Maven Central into .run/jars/<server>/lib.
# Skips the work when lib/ already matches the server's pom.xml.
#   tooling/services/fetch-jars.sh pulsar|kafka|cassandra|s3proxy|pulsar-perf
set -euo pipefail
server="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pom="$here/servers/$server/pom.xml"
[ -f "$pom" ] || { echo "fetch-jars: no pom for server '$server' ($pom)" >&2; exit 2; }
out="${PC_SERVICES_JARS:-$root/.run/jars}/$server"
stamp="$(sha256sum "$pom" | cut -c1-16)"
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
  exit 0
fi
mkdir -p "$out"
settings="$out/maven-settings.xml"
# Upstream poms (Pulsar's parent) declare extra repositories that cannot be reached from every machine.
# Route every repository to the Central URL this Maven installation already uses.
central="$(unzip -p "$(ls "$(dirname "$(readlink -f "$(command -v mvn)")")"/../lib/maven-model-builder-*.jar | head -1)" \
  org/apache/maven/model/pom-4.0.0.xml | grep -m1 -o '<url>[^<]*' | sed 's/<url>//')"
cat > "$settings" <<XML
<settings>
  <mirrors>
    <mirror><id>central-for-everything</id><mirrorOf>*</mirrorOf><url>$central</url></mirror>
  </mirrors>
</settings>
XML
rm -rf "$out/lib"
echo "fetch-jars: resolving $server from Maven Central (first run only)" >&2
mvn -B -q -s "$settings" -f "$pom" dependency:copy-dependencies \
  -DoutputDirectory="$out/lib" -DincludeScope=runtime -Dmdep.prependGroupId=true \
  -DexcludeClassifiers=osx-x86_64,osx-aarch_64,windows-x86_64,linux-aarch_64 >"$out/maven.log" 2>&1 || {
  echo "fetch-jars: Maven failed for $server; last lines of $out/maven.log:" >&2
  tail -30 "$out/maven.log" >&2
  exit 1
}
echo "$stamp" > "$out/.stamp"
