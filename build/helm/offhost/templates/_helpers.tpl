{{- define "offhost.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "offhost.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: server
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "offhost.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "offhost.serviceAccountName" -}}
{{- default (include "offhost.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "offhost.databaseSecret" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecret }}{{- else -}}{{ include "offhost.fullname" . }}-database{{- end -}}
{{- end -}}

{{- define "offhost.apiKeySecret" -}}
{{- if .Values.apiKey.existingSecret -}}{{ .Values.apiKey.existingSecret }}{{- else -}}{{ include "offhost.fullname" . }}-api-key{{- end -}}
{{- end -}}

{{- define "offhost.contentClaim" -}}
{{- if .Values.contentVolume.existingClaim -}}{{ .Values.contentVolume.existingClaim }}{{- else -}}{{ include "offhost.fullname" . }}-content{{- end -}}
{{- end -}}

{{- define "offhost.publicUrl" -}}
{{- if .Values.ingress.enabled -}}
{{- printf "%s://%s/" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- else -}}
{{- .Values.publicUrl -}}
{{- end -}}
{{- end -}}
